//! Federation addressing and presence with real `elbusd` nodes on a real nats-server:
//! `mask@node` and `mask@*` broadcasts, the `.broker/remote/node` and `.broker/remote/info`
//! announcements (a node joining, names coming and going, a graceful stop), the ACK codes of
//! refused names, frames above NATS `max_payload`, a full gateway queue, and the gateway's byte
//! bound behind a stalled nats-server.
#![cfg(feature = "federation")]

use elbus::federation::{REMOTE_INFO_TOPIC, REMOTE_NODE_TOPIC};
use elbus::{AsyncClient, ErrorKind, EventChannel, FrameKind, QoS};
use elbus_suite::broker::send_signal;
use elbus_suite::federation::{
    broker_call_with, connect, next_announcement, next_message, node, poll_until,
    send_until_through, sent, status, try_connect, wait_node_up, watcher,
};
use elbus_suite::nats::NatsServer;
use elbus_suite::wait::within;

/// The next broadcast on `events` (other frames skipped): sender, payload.
async fn next_broadcast(events: &mut EventChannel) -> (String, Vec<u8>) {
    loop {
        let frame = within("a broadcast", events.recv())
            .await
            .expect("the connection closed");
        if frame.kind() == FrameKind::Broadcast {
            return (frame.sender().to_owned(), frame.payload().to_vec());
        }
    }
}

/// The names `client.list` gives at `path` with `params` (a MessagePack map).
async fn listed(path: &std::path::Path, params: &[u8]) -> Vec<String> {
    let reply = broker_call_with(path, "client.list", params).await;
    let value: rmpv::Value = rmp_serde::from_slice(&reply).expect("a client.list map");
    value["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .map(|c| c["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// `{"remote": true}`, with a filter when given.
fn remote_params(filter: Option<&str>) -> Vec<u8> {
    let mut map = vec![(rmpv::Value::from("remote"), rmpv::Value::from(true))];
    if let Some(filter) = filter {
        map.push((rmpv::Value::from("filter"), rmpv::Value::from(filter)));
    }
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &rmpv::Value::Map(map)).expect("encode");
    out
}

async fn broadcast(
    client: &impl AsyncClient,
    mask: &str,
    payload: &[u8],
) -> Result<(), elbus::Error> {
    client
        .send_broadcast(mask, payload, QoS::Processed)
        .await?
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mask_at_node_and_mask_at_star_broadcasts() {
    let nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let b = node(&nats.url(), "b", &[]);
    let c = node(&nats.url(), "c", &[]);
    let (_ga, mut group_a) = connect(a.unix_path(), "grp.x").await;
    let (_gb, mut group_b) = connect(b.unix_path(), "grp.x").await;
    let (_gc, mut group_c) = connect(c.unix_path(), "grp.x").await;
    let (_ob, mut other_b) = connect(b.unix_path(), "other.y").await;
    let (sender, _) = connect(a.unix_path(), "sender").await;
    for peer in ["b", "c"] {
        wait_node_up(a.unix_path(), peer).await;
    }

    // `grp.*@b`: on b only, from `sender@a`.
    broadcast(&sender, "grp.*@b", b"one").await.unwrap();
    assert_eq!(
        next_broadcast(&mut group_b).await,
        ("sender@a".to_owned(), b"one".to_vec())
    );
    // An unknown node: ACK 0x71 at once.
    let err = broadcast(&sender, "grp.*@zz", b"lost").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotRegistered, "{err}");

    // `grp.*@*`: here and on every other node, once each.
    broadcast(&sender, "grp.*@*", b"all").await.unwrap();
    broadcast(&sender, "grp.*@*", b"end").await.unwrap();
    assert_eq!(
        next_broadcast(&mut group_a).await,
        ("sender".to_owned(), b"all".to_vec()),
        "a's own client gets it locally, and not `one` (meant for b only)"
    );
    assert_eq!(
        next_broadcast(&mut group_a).await.1,
        b"end",
        "no echo back from NATS"
    );
    for events in [&mut group_b, &mut group_c] {
        assert_eq!(
            next_broadcast(events).await,
            ("sender@a".to_owned(), b"all".to_vec()),
            "c never sees `one`"
        );
        assert_eq!(next_broadcast(events).await.1, b"end", "exactly one copy");
    }
    // b's broadcasts subject once more: no second copy of `one` behind it.
    broadcast(&sender, "grp.*@b", b"last").await.unwrap();
    assert_eq!(next_broadcast(&mut group_b).await.1, b"last");
    // A name the mask does not match got none of them.
    broadcast(&sender, "other.*@b", b"other").await.unwrap();
    assert_eq!(next_broadcast(&mut other_b).await.1, b"other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_name_announcements() {
    let nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let (_watch, mut announcements) = watcher(
        a.unix_path(),
        "watch",
        &[REMOTE_NODE_TOPIC, REMOTE_INFO_TOPIC],
    )
    .await;

    let mut b = node(&nats.url(), "b", &[]);
    assert_eq!(next_announcement(&mut announcements, "b").await, "up");
    let (svc, _) = connect(b.unix_path(), "svc.x").await;
    assert_eq!(
        next_announcement(&mut announcements, "svc.x@b").await,
        "reg"
    );
    drop(svc);
    // The name snapshot a asks of b when b comes up may repeat the `reg`.
    loop {
        match next_announcement(&mut announcements, "svc.x@b")
            .await
            .as_str()
        {
            "reg" => continue,
            event => {
                assert_eq!(event, "unreg");
                break;
            }
        }
    }

    // A graceful stop says `down` at once (not after the heartbeat timeout).
    b.signal("TERM");
    assert!(b.wait_exit().success(), "{}", b.log());
    assert_eq!(next_announcement(&mut announcements, "b").await, "down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_names_and_oversized_frames() {
    let nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let b = node(&nats.url(), "b", &[]);
    // While federation is on, a local name holding `@` is refused at registration: 0x72.
    let err = try_connect(a.unix_path(), "x@b").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Data, "{err}");

    let (_sink, mut sink_events) = connect(b.unix_path(), "sink").await;
    let (app, _) = connect(a.unix_path(), "app").await;
    wait_node_up(a.unix_path(), "b").await;
    // Above the server's max_payload (1 MiB by default): 0x72, counted as too_large.
    let big = vec![7_u8; 1 << 20];
    let err = sent(&app, "sink@b", &big).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Data, "{err}");
    assert_eq!(status(a.unix_path()).await.too_large, 1);
    // The link is unharmed: the next frame passes.
    sent(&app, "sink@b", b"small").await.unwrap();
    assert_eq!(
        next_message(&mut sink_events).await,
        ("app@a".to_owned(), b"small".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_gateway_queue_refuses_with_0x77() {
    let nats = NatsServer::start();
    // 512 bytes of queue: a frame that alone exceeds it can never be queued.
    let a = node(&nats.url(), "a", &["--federation-queue-bytes", "512"]);
    let b = node(&nats.url(), "b", &[]);
    let (_sink, mut sink_events) = connect(b.unix_path(), "sink").await;
    let (app, _) = connect(a.unix_path(), "app").await;
    wait_node_up(a.unix_path(), "b").await;
    let dropped = status(a.unix_path()).await.dropped;
    let err = sent(&app, "sink@b", &[1; 1000]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotDelivered, "{err}");
    assert_eq!(status(a.unix_path()).await.dropped, dropped + 1);
    sent(&app, "sink@b", b"fits").await.unwrap();
    assert_eq!(next_message(&mut sink_events).await.1, b"fits");
}

/// The bytes a stalled NATS connection holds count against `--federation-queue-bytes` until
/// the client has written them, wherever they wait: sends to another node get `0x77` once the
/// kernel's socket buffers and the bound are full, local traffic keeps passing meanwhile, and
/// once the server runs again the count drains to zero and remote sends work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_nats_server_fills_the_byte_bound_not_memory() {
    const BOUND: usize = 256 * 1024;
    let mut nats = NatsServer::start();
    let a = node(
        &nats.url(),
        "a",
        &["--federation-queue-bytes", &BOUND.to_string()],
    );
    let b = node(&nats.url(), "b", &[]);
    let (_sink, mut sink_events) = connect(b.unix_path(), "sink").await;
    let (app, _) = connect(a.unix_path(), "app").await;
    let (_local, mut local_events) = connect(a.unix_path(), "local").await;
    wait_node_up(a.unix_path(), "b").await;

    send_signal(nats.pid(), "STOP");
    // 32 KiB frames: the loopback socket buffers take a few MiB, then the bound must refuse.
    // Far more than both together are offered, and sent faster than a node is found silent.
    let frame = vec![7_u8; 32 * 1024];
    let mut refused = None;
    for i in 0..2_000 {
        if let Err(err) = sent(&app, "sink@b", &frame).await {
            refused = Some((i, err));
            break;
        }
    }
    let held = status(a.unix_path()).await.queue_bytes;
    sent(&app, "local", b"still local").await.unwrap();
    assert_eq!(
        next_message(&mut local_events).await,
        ("app".to_owned(), b"still local".to_vec())
    );
    send_signal(nats.pid(), "CONT");
    let (count, err) = refused.expect("2000 frames of 32 KiB were all accepted by a stalled NATS");
    assert_eq!(
        err.kind(),
        ErrorKind::NotDelivered,
        "after {count} frames: {err}"
    );
    assert!(
        held <= BOUND,
        "{held} bytes held against a bound of {BOUND}"
    );

    poll_until("the held bytes to drain", || async {
        (status(a.unix_path()).await.queue_bytes == 0).then_some(())
    })
    .await;
    send_until_through(&app, "sink@b", b"after", &mut sink_events, "app@a").await;
    nats.kill();
}

/// `client.list` with `{"remote": true}` adds the names registered on the other nodes, as
/// `name@node`: those there before the nodes saw each other (the name snapshot) and those
/// registered later (announcements), not those that left, none of a node that stopped; the
/// filter applies to them too, and without `remote` the list stays local.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_list_shows_the_other_nodes_names_on_request() {
    let nats = NatsServer::start();
    let mut b = node(&nats.url(), "b", &[]);
    let (_early, _) = connect(b.unix_path(), "svc.early").await;
    let a = node(&nats.url(), "a", &[]);
    let (_app, _) = connect(a.unix_path(), "app").await;
    wait_node_up(a.unix_path(), "b").await;
    let (_late, _) = connect(b.unix_path(), "svc.late").await;
    let (gone, _) = connect(b.unix_path(), "svc.gone").await;
    let remote_of_a = || async {
        listed(a.unix_path(), &remote_params(None))
            .await
            .into_iter()
            .filter(|name| name.contains('@'))
            .collect::<Vec<_>>()
    };
    poll_until("a to list svc.gone@b", || async {
        remote_of_a()
            .await
            .contains(&"svc.gone@b".to_owned())
            .then_some(())
    })
    .await;
    drop(gone);
    poll_until("a to list b's names", || async {
        let names = remote_of_a().await;
        (names == ["svc.early@b", "svc.late@b"]).then_some(())
    })
    .await;
    let local = listed(a.unix_path(), b"").await;
    assert!(local.contains(&"app".to_owned()), "{local:?}");
    assert!(local.iter().all(|name| !name.contains('@')), "{local:?}");
    let filtered = listed(a.unix_path(), &remote_params(Some("late"))).await;
    assert_eq!(filtered, ["svc.late@b"]);
    assert_eq!(status(a.unix_path()).await.remote_names, 2);

    b.signal("TERM");
    assert!(b.wait_exit().success(), "{}", b.log());
    poll_until("a to forget b's names", || async {
        remote_of_a().await.is_empty().then_some(())
    })
    .await;
}
