//! `elbus top` and the `.broker` data behind it, over a real `elbusd`: `top --once --json` with
//! known traffic (UNIX socket and TCP), `topic.list` exact per topic and bounded at 1024 topics,
//! `queue_bytes` in `client.list` for a client that stops reading, busrtd (no topics, no
//! `queue_bytes`), the live view in a pseudo-terminal (drawn, quit on `q`, terminal restored)
//! and the usage errors.

use std::collections::BTreeMap;

use elbus::ipc::{Client, Config};
use elbus::rpc::{DummyHandlers, RpcClient};
use elbus::{AsyncClient, QoS};
use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::cli::{assert_fails, elbus, run};
use elbus_suite::raw::Raw;
use elbus_suite::wait::{within, CLIENT_TIMEOUT};
use serde_json::Value as Json;

fn elbusd(extra: &[&str]) -> Broker {
    Broker::start_with_args(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")), extra)
}

async fn connect(path: &str, name: &str) -> Client {
    Client::connect(&Config::new(path, name).timeout(CLIENT_TIMEOUT))
        .await
        .unwrap_or_else(|e| panic!("{name} cannot connect to {path}: {e}"))
}

/// Calls `.broker` `method` with `params` and decodes the reply.
async fn broker_call(rpc: &RpcClient<Client>, method: &str, params: &[u8]) -> rmpv::Value {
    let reply = within(method, rpc.call(".broker", method, params, QoS::Processed))
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    rmp_serde::from_slice(reply.payload()).unwrap()
}

/// Runs `elbus --json -n cli.top PATH top --once ARGS` off the runtime and parses its output.
async fn top_once(path: &str) -> Json {
    let path = path.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        elbus(
            &[
                "--json",
                "-n",
                "cli.top",
                &path,
                "top",
                "--once",
                "--interval",
                "0.2",
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

fn find<'a>(list: &'a Json, key: &str, name: &str) -> &'a Json {
    list.as_array()
        .and_then(|list| list.iter().find(|item| item[key] == name))
        .unwrap_or_else(|| panic!("{key} {name} not in {list}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn top_once_json_shows_known_traffic() {
    let broker = elbusd(&[]);
    for transport in Transport::ALL {
        let path = broker.path(transport);
        let (sub_name, pub_name) = (format!("sub.{transport}"), format!("pub.{transport}"));
        let subscriber = connect(&path, &sub_name).await;
        let mut frames = subscriber.take_event_channel().unwrap();
        let topic = format!("top/{transport}");
        let confirm = subscriber.subscribe(&topic, QoS::Processed).await.unwrap();
        within("subscribe ACK", confirm).await.unwrap();
        let publisher = connect(&path, &pub_name).await;
        for _ in 0..5 {
            let confirm = publisher
                .publish(&topic, &[7u8; 100], QoS::Processed)
                .await
                .unwrap();
            within("publish ACK", confirm).await.unwrap();
        }
        for _ in 0..5 {
            within("a publication", frames.recv()).await.unwrap();
        }

        let top = top_once(&path).await;
        assert!(top["interval_secs"].as_f64().unwrap() > 0.0, "{top}");
        // Each publication counts its frame body: the topic, a NUL and the payload.
        let body = (topic.len() + 1 + 100) as u64;
        let row = find(&top["topics"], "topic", &topic);
        assert_eq!(row["publications"], 5, "{row}");
        assert_eq!(row["bytes"], 5 * body, "{row}");
        assert_eq!(row["deliveries"], 5, "{row}");
        assert_eq!(row["delivered_bytes"], 5 * body, "{row}");
        // Nothing was published during the interval.
        assert_eq!(row["publications_per_s"], 0.0, "{row}");
        assert_eq!(top["topics_other"]["max_tracked"], 1024, "{top}");

        let clients = &top["clients"];
        assert!(
            clients
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["name"] != "cli.top"),
            "the CLI's own client is left out: {clients}"
        );
        for name in [&sub_name, &pub_name] {
            let client = find(clients, "name", name);
            // Idle during the interval: exactly 0, whatever the interval's length.
            for rate in [
                "r_frames_per_s",
                "r_bytes_per_s",
                "w_frames_per_s",
                "w_bytes_per_s",
            ] {
                assert_eq!(client[rate], 0.0, "{name} {rate}: {client}");
            }
            assert_eq!(client["queue"], 0, "{client}");
            assert_eq!(client["queue_bytes"], 0, "{client}");
            assert_eq!(client["dropped_frames"], 0, "{client}");
        }
        let totals = &top["totals"];
        assert!(totals["r_frames"].as_u64().unwrap() >= 5, "{totals}");
        assert!(totals["clients"].as_u64().unwrap() >= 3, "{totals}");
        publisher.disconnect().await;
        subscriber.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_list_is_exact_per_topic_and_bounded() {
    let broker = elbusd(&[]);
    let path = broker.path(Transport::Unix);
    let rpc = RpcClient::new(connect(&path, "caller").await, DummyHandlers).unwrap();
    let publisher = connect(&path, "many").await;
    let topics = 1030;
    for i in 0..topics {
        publisher
            .publish(&format!("many/{i}"), b"x", QoS::No)
            .await
            .unwrap();
    }
    // One acknowledged publication after them: everything before it has been routed.
    let confirm = publisher
        .publish("many/0", b"x", QoS::Processed)
        .await
        .unwrap();
    within("publish ACK", confirm).await.unwrap();

    let list = broker_call(&rpc, "topic.list", b"").await;
    let keys: Vec<&str> = list
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["topics", "other", "tracked", "max_tracked"]);
    assert_eq!(list["tracked"].as_u64(), Some(1024));
    assert_eq!(list["max_tracked"].as_u64(), Some(1024));
    let entries = list["topics"].as_array().unwrap();
    assert_eq!(entries.len(), 1024);
    let entry_keys: Vec<&str> = entries[0]
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(
        entry_keys,
        [
            "topic",
            "publications",
            "bytes",
            "deliveries",
            "delivered_bytes"
        ]
    );
    // By bytes, most first; the table also holds the broker's own `.broker/info`
    // announcements (of the clients' registrations).
    let bytes: Vec<u64> = entries
        .iter()
        .map(|e| e["bytes"].as_u64().unwrap())
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "{bytes:?}");
    let first = entries
        .iter()
        .find(|e| e["topic"].as_str() == Some("many/0"))
        .unwrap();
    // Published twice, an 8-byte body each (`many/0`, NUL, `x`), to nobody.
    assert_eq!(first["publications"].as_u64(), Some(2));
    assert_eq!(first["bytes"].as_u64(), Some(16));
    assert_eq!(first["deliveries"].as_u64(), Some(0));
    let tracked_many: u64 = entries
        .iter()
        .filter(|e| e["topic"].as_str().unwrap().starts_with("many/"))
        .map(|e| e["publications"].as_u64().unwrap())
        .sum();
    // Every publication is counted exactly once: by its topic, or in `other`.
    assert_eq!(
        tracked_many + list["other"]["publications"].as_u64().unwrap(),
        topics + 1
    );
    assert!(list["other"]["publications"].as_u64().unwrap() >= 6);

    let limit = rmp_serde::to_vec_named(&BTreeMap::from([("limit", 3)])).unwrap();
    let limited = broker_call(&rpc, "topic.list", &limit).await;
    assert_eq!(limited["topics"].as_array().unwrap().len(), 3);
    let err = within(
        "bad params",
        rpc.call(".broker", "topic.list", &[0x91, 0x01], QoS::Processed),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), -32700);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_shows_its_queue_depth() {
    // Long timeouts: the stalled client must stay connected while its queue is looked at.
    let broker = elbusd(&["-t", "300", "--idle-timeout", "0"]);
    let unix = broker.unix_path().to_owned();
    let path = broker.path(Transport::Unix);
    let _stalled = Raw::register(&unix, "stalled").await;
    let rpc = RpcClient::new(connect(&path, "flooder").await, DummyHandlers).unwrap();
    let payload = vec![0u8; 64 << 10];
    let filter = rmp_serde::to_vec_named(&BTreeMap::from([("filter", "^stalled$")])).unwrap();
    let (queue, queue_bytes) = within("a queue behind the stalled client", async {
        loop {
            for _ in 0..16 {
                rpc.client()
                    .send("stalled", &payload, QoS::No)
                    .await
                    .unwrap();
            }
            let list = broker_call(&rpc, "client.list", &filter).await;
            let entry = &list["clients"][0];
            let queue = entry["queue"].as_u64().unwrap();
            if queue > 0 {
                return (queue, entry["queue_bytes"].as_u64().unwrap());
            }
        }
    })
    .await;
    // Each queued frame costs its wire bytes (the whole payload at least) plus 112.
    assert!(
        queue_bytes >= 64 << 10,
        "{queue} frames, {queue_bytes} bytes"
    );
    assert!(
        queue_bytes <= 64 << 20,
        "within --queue-bytes: {queue_bytes}"
    );

    let top = top_once(&path).await;
    let stalled = find(&top["clients"], "name", "stalled");
    assert!(stalled["queue"].as_u64().unwrap() >= queue, "{stalled}");
    assert!(
        stalled["queue_bytes"].as_u64().unwrap() >= 64 << 10,
        "{stalled}"
    );
}

#[test]
fn usage_errors() {
    let broker = elbusd(&[]);
    let path = broker.path(Transport::Unix);
    let run = elbus(&[&path, "top", "--once"], None);
    assert_fails(&run, 2, "--once prints JSON");
    // The tests' stdin and stdout are pipes, not a terminal.
    let run = elbus(&[&path, "top"], None);
    assert_fails(&run, 2, "top needs a terminal");
    let run = elbus(&[&path, "top", "--interval", "0"], None);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("from 0.1 to 3600"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn top_once_json_against_busrtd() {
    // busrtd has no `topic.list` and no `queue_bytes`: null, not an error.
    let broker = Broker::busrtd();
    let path = broker.path(Transport::Unix);
    let idle = connect(&path, "idle").await;
    let top = top_once(&path).await;
    assert!(top["topics"].is_null(), "{top}");
    assert!(top["topics_other"].is_null(), "{top}");
    let client = find(&top["clients"], "name", "idle");
    assert!(client["queue_bytes"].is_null(), "{client}");
    assert_eq!(client["queue"], 0, "{client}");
    assert_eq!(client["r_frames_per_s"], 0.0, "{client}");
    idle.disconnect().await;
}

/// The live view in a pseudo-terminal from util-linux `script`: the screen is drawn, `q` (typed
/// at once; the terminal holds it until the view reads keys) quits with 0, and the terminal is
/// put back: the alternate screen left after it was entered, the cursor shown.
#[test]
fn the_live_view_quits_on_q_and_restores_the_terminal() {
    let broker = elbusd(&[]);
    let path = broker.path(Transport::Unix);
    let elbus_bin = elbus_suite::workspace_bin("elbus");
    let command = format!(
        "stty rows 24 cols 100 && exec '{}' '{path}' top",
        elbus_bin.display()
    );
    let script = std::path::Path::new("script");
    let probe = std::process::Command::new(script).arg("--version").output();
    assert!(
        probe.is_ok(),
        "this test needs `script` from util-linux (apt-get install util-linux)"
    );
    let run = run(script, &["-qec", &command, "/dev/null"], Some(b"q"));
    assert_eq!(run.code, 0, "{run:?}");
    let screen = &run.stdout;
    let entered = screen
        .find("\x1b[?1049h")
        .expect("alternate screen entered");
    let left = screen.rfind("\x1b[?1049l").expect("alternate screen left");
    assert!(entered < left, "{screen:?}");
    assert!(
        screen.contains("q/Esc/Ctrl-C quit"),
        "help line drawn: {screen:?}"
    );
    assert!(
        screen[entered..].contains("\x1b[?25h"),
        "cursor shown: {screen:?}"
    );
}
