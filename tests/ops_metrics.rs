//! `elbusd --metrics`: the real broker serves Prometheus metrics that PyPI `prometheus-client`
//! parses, with exact counts of known traffic driven by real clients; `/healthz`, 404, 405, an
//! oversized request head refused while the bus carries on, the bound on connections at once
//! (a fifth waits for a slot; a silent one gets 408), per-client series only with
//! `--metrics-per-client`, and bad `--metrics` values refused like every other option.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use elbus::ipc::{Client, Config};
use elbus::rpc::{DummyHandlers, RpcClient};
use elbus::{AsyncClient, EventChannel, Frame, QoS};
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::metrics::{self, run_to_exit, HttpReply, Scrape};
use elbus_suite::wait::{within, CLIENT_TIMEOUT, WAIT};

const ELBUSD: &str = env!("CARGO_BIN_EXE_elbusd");

fn elbusd() -> BrokerKind {
    BrokerKind::elbusd(ELBUSD)
}

/// A socket client that pings (which no counter counts), so the broker's idle limit never
/// disconnects it between scrapes.
async fn connect(path: &str, name: &str) -> Client {
    let config = Config::new(path, name)
        .timeout(CLIENT_TIMEOUT)
        .ping_interval(Some(Duration::from_secs(1)));
    Client::connect(&config)
        .await
        .unwrap_or_else(|e| panic!("{name} cannot connect to {path}: {e}"))
}

async fn next(events: &mut EventChannel) -> Frame {
    within("a frame", events.recv())
        .await
        .expect("the connection closed")
}

/// A scrape through the Python parser (a blocking child process, off the runtime's thread).
async fn scrape(addr: SocketAddr) -> Scrape {
    tokio::task::spawn_blocking(move || Scrape::take(addr))
        .await
        .expect("the scrape ran")
}

/// A raw HTTP exchange, off the runtime's thread.
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> HttpReply {
    tokio::task::spawn_blocking(move || metrics::exchange(addr, &request))
        .await
        .expect("the exchange ran")
}

/// Sends `payload` to `target` with QoS Processed and waits for the broker's ACK.
async fn send(client: &Client, target: &str, payload: &[u8]) -> Result<(), elbus::Error> {
    client.send(target, payload, QoS::Processed).await?.await
}

#[tokio::test]
async fn known_traffic_is_counted_exactly() {
    let broker = Broker::start_with_args(&elbusd(), &["--metrics", "127.0.0.1:0"]);
    let addr = metrics::endpoint(&broker);
    let [unix, tcp] = broker.paths();
    let sender = connect(unix, "m.sender").await;
    let receiver = connect(unix, "m.receiver").await;
    let mut received = receiver.take_event_channel().unwrap();
    let subscribers = [
        connect(unix, "m.sub1").await,
        connect(tcp, "m.sub2").await,
        connect(tcp, "m.sub3").await,
    ];
    let rpc = RpcClient::new(connect(unix, "m.rpc").await, DummyHandlers).unwrap();

    let before = scrape(addr).await;
    // Every client is in: the gauges and registrations are exact already.
    for (transport, clients) in [("unix", 4.0), ("tcp", 2.0), ("in_process", 1.0)] {
        let labels = [("transport", transport)];
        assert_eq!(
            before.value("elbus_clients", &labels),
            clients,
            "{transport}"
        );
        assert_eq!(
            before.value("elbus_registrations_total", &labels),
            clients,
            "{transport}"
        );
    }
    // Each client's automatic .broker/warn subscription.
    assert_eq!(before.value("elbus_subscriptions", &[]), 7.0);
    assert_eq!(
        before.value("elbus_build_info", &[("version", elbus::VERSION)]),
        1.0
    );
    assert_eq!(
        before.value("elbus_max_queued_bytes", &[]),
        (256u64 << 20) as f64
    );
    assert!(before.value("elbus_uptime_seconds", &[]) >= 0.0);
    assert_eq!(before.kind("elbus_acks"), "counter");
    assert_eq!(before.kind("elbus_clients"), "gauge");
    assert!(
        !before.has("elbus_client_received_frames"),
        "per-client series without --metrics-per-client"
    );

    // 3 subscriptions, N = 5 messages, a publication to M = 3 subscribers, a message to nobody
    // (refused with 0x71), and two .broker calls (one to a method that does not exist).
    let topic = "m/topic";
    let mut subscribed = Vec::new();
    for subscriber in &subscribers {
        subscribed.push(subscriber.take_event_channel().unwrap());
        subscriber
            .subscribe(topic, QoS::Processed)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    const N: usize = 5;
    for i in 0..N {
        send(&sender, "m.receiver", format!("hello {i}").as_bytes())
            .await
            .unwrap();
        assert_eq!(
            next(&mut received).await.payload(),
            format!("hello {i}").as_bytes()
        );
    }
    let publication = b"21.5";
    sender
        .publish(topic, publication, QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    for events in &mut subscribed {
        assert_eq!(next(events).await.payload(), publication);
    }
    let refused = send(&sender, "m.nobody", b"x").await.unwrap_err();
    assert_eq!(refused.kind(), elbus::ErrorKind::NotRegistered);
    let ok = rpc.call(".broker", "test", b"", QoS::Processed).await;
    assert_eq!(ok.unwrap().payload(), b"\x81\xa2ok\xc3");
    let unknown = rpc.call(".broker", "no.such", b"", QoS::Processed).await;
    assert_eq!(unknown.unwrap_err().code(), -32601);

    let after = scrape(addr).await;
    let delta = |sample: &str, labels: &[(&str, &str)]| after.delta(&before, sample, labels);
    let op = |op| [("op", op)];
    assert_eq!(delta("elbus_received_frames_total", &op("subscribe")), 3.0);
    // N, the refused one, 2 calls to .broker and its 2 replies (an in-process sender).
    assert_eq!(
        delta("elbus_received_frames_total", &op("message")),
        (N + 1 + 2 + 2) as f64
    );
    assert_eq!(delta("elbus_received_frames_total", &op("publish")), 1.0);
    assert_eq!(delta("elbus_received_frames_total", &op("broadcast")), 0.0);
    // A socket sender's body: the topic, a NUL and the payload.
    let publish_body = (topic.len() + 1 + publication.len()) as f64;
    assert_eq!(
        delta("elbus_received_bytes_total", &op("publish")),
        publish_body
    );
    assert_eq!(
        delta("elbus_delivered_frames_total", &op("message")),
        (N + 2 + 2) as f64
    );
    assert_eq!(delta("elbus_delivered_frames_total", &op("publish")), 3.0);
    assert_eq!(
        delta("elbus_delivered_bytes_total", &op("publish")),
        3.0 * publish_body
    );
    // ACKs: 3 subscriptions, N messages, the publication, the two calls; one 0x71.
    assert_eq!(
        delta("elbus_acks_total", &[("code", "0x01")]),
        (3 + N + 1 + 2) as f64
    );
    assert_eq!(delta("elbus_acks_total", &[("code", "0x71")]), 1.0);
    assert_eq!(delta("elbus_acks_total", &[("code", "other")]), 0.0);
    assert_eq!(after.value("elbus_subscriptions", &[]), 7.0 + 3.0);
    let method = |m| [("method", m)];
    assert_eq!(delta("elbus_broker_api_calls_total", &method("test")), 1.0);
    assert_eq!(delta("elbus_broker_api_calls_total", &method("other")), 1.0);
    assert_eq!(
        delta("elbus_broker_api_errors_total", &method("other")),
        1.0
    );
    assert_eq!(delta("elbus_broker_api_errors_total", &method("test")), 0.0);
    assert_eq!(
        after.value("elbus_broker_api_calls_refused_total", &[]),
        0.0
    );
    for policy in ["drop-newest", "drop-oldest", "disconnect"] {
        assert_eq!(
            after.value("elbus_dropped_frames_total", &[("policy", policy)]),
            0.0
        );
    }
    assert_eq!(after.value("elbus_forced_disconnects_total", &[]), 0.0);
    assert_eq!(after.value("elbus_access_denied_total", &[]), 0.0);

    // A client that leaves takes its gauge and subscriptions with it; registrations stay.
    let [first, ..] = subscribers;
    first.disconnect().await;
    drop(first);
    let unix = [("transport", "unix")];
    let started = Instant::now();
    let left = loop {
        // The broker sees the end of the connection on its own time: poll, with a bound.
        let scraped = scrape(addr).await;
        if scraped.value("elbus_clients", &unix) == 3.0 {
            break scraped;
        }
        assert!(
            started.elapsed() < WAIT,
            "the gauge kept the client that left"
        );
    };
    assert_eq!(left.value("elbus_registrations_total", &unix), 4.0);
    assert_eq!(left.value("elbus_subscriptions", &[]), 10.0 - 2.0);
}

#[tokio::test]
async fn per_client_series_only_with_the_option() {
    let broker = Broker::start_with_args(
        &elbusd(),
        &["--metrics", "127.0.0.1:0", "--metrics-per-client"],
    );
    let addr = metrics::endpoint(&broker);
    // A name a client chose, with the characters the text format must escape.
    let name = r#"pc.we"ird\name"#;
    let client = connect(broker.paths()[0], name).await;
    for _ in 0..2 {
        client
            .publish("pc/nobody", b"1", QoS::Processed)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let scraped = scrape(addr).await;
    let labels = [("client", name), ("transport", "unix")];
    assert_eq!(
        scraped.value("elbus_client_received_frames_total", &labels),
        2.0
    );
    assert_eq!(
        scraped.value("elbus_client_received_bytes_total", &labels),
        // The topic, a NUL and the one-byte payload, twice.
        2.0 * ("pc/nobody".len() + 1 + 1) as f64
    );
    assert_eq!(scraped.value("elbus_client_queued_frames", &labels), 0.0);
    let broker_labels = [("client", ".broker"), ("transport", "in_process")];
    assert_eq!(
        scraped.value("elbus_client_dropped_frames_total", &broker_labels),
        0.0
    );
}

#[tokio::test]
async fn healthz_unknown_paths_methods_and_an_oversized_head() {
    let broker = Broker::start_with_args(&elbusd(), &["--metrics", "127.0.0.1:0"]);
    let addr = metrics::endpoint(&broker);
    let healthz = exchange(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()).await;
    assert_eq!(
        (healthz.status.as_str(), healthz.body.as_str()),
        ("HTTP/1.1 200 OK", "ok")
    );
    assert!(healthz.headers.iter().any(|h| h == "Connection: close"));
    let missing = exchange(addr, b"GET /nope HTTP/1.1\r\n\r\n".to_vec()).await;
    assert_eq!(missing.status, "HTTP/1.1 404 Not Found");
    let post = exchange(
        addr,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n".to_vec(),
    )
    .await;
    assert_eq!(post.status, "HTTP/1.1 405 Method Not Allowed");
    assert!(post.headers.iter().any(|h| h == "Allow: GET"));
    let garbage = exchange(addr, b"\x16\x03\x01 not http\r\n\r\n".to_vec()).await;
    assert_eq!(garbage.status, "HTTP/1.1 400 Bad Request");

    // A head past the 8 KiB bound, still unfinished: refused, and nothing else is hurt.
    let mut oversized = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
    oversized.resize(9 * 1024, b'a');
    let refused = exchange(addr, oversized).await;
    assert_eq!(
        refused.status,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let client = connect(broker.paths()[0], "h.self").await;
    let mut events = client.take_event_channel().unwrap();
    send(&client, "h.self", b"still routing").await.unwrap();
    assert_eq!(next(&mut events).await.payload(), b"still routing");
    let metrics = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n".to_vec()).await;
    assert_eq!(metrics.status, "HTTP/1.1 200 OK");
    assert!(metrics
        .headers
        .iter()
        .any(|h| h == &format!("Content-Type: {}", elbus::metrics::CONTENT_TYPE)));
    assert!(metrics
        .body
        .contains("\nelbus_received_frames_total{op=\"message\"} 1\n"));
    assert!(scrape(addr).await.has("elbus_acks"));
}

#[test]
fn bad_metrics_values_are_one_line_errors() {
    for case in [
        &["--metrics", "x"][..],
        &["--metrics", "70000"],
        &["--metrics", ":9100"],
        &["--metrics", "host:"],
        &["--metrics", ""],
        &["--metrics-per-client"],
    ] {
        let mut args = vec!["-B", "/nonexistent-dir-elbus/bus.sock"];
        args.extend_from_slice(case);
        let (status, stdout, stderr) = run_to_exit(Path::new(ELBUSD), &args);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(status.code(), Some(2), "{case:?}\n{stdout}\n{stderr}");
        assert_eq!(lines.len(), 1, "{case:?}: {stderr}");
        assert!(
            lines[0].starts_with("elbusd: error: "),
            "{case:?}: {stderr}"
        );
        assert!(lines[0].contains("--metrics"), "{case:?}: {stderr}");
    }
    // A port that is taken: one log line naming the endpoint, a non-zero exit, no ready line.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = elbus_suite::tempdir::TempDir::new("metrics-taken");
    let socket = dir.join("bus.sock");
    let args = ["-B", socket.to_str().unwrap(), "--metrics", &port];
    let (status, stdout, _) = run_to_exit(Path::new(ELBUSD), &args);
    assert!(!status.success(), "{stdout}");
    assert!(
        stdout.contains("unable to bind the metrics endpoint 127.0.0.1:"),
        "{stdout}"
    );
    assert!(!stdout.contains("elbus broker started"), "{stdout}");
    assert!(!socket.exists(), "the refused start left its socket");
}

#[test]
fn connections_past_the_bound_wait_and_silent_ones_get_408() {
    use std::io::Read;
    let broker = Broker::start_with_args(&elbusd(), &["--metrics", "127.0.0.1:0"]);
    let addr = metrics::endpoint(&broker);
    // Four connections that send nothing hold every slot (accepted in order, before the fifth).
    let mut held: Vec<std::net::TcpStream> = (0..4)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    // The fifth is answered only once a slot is free: after a held one got its 408.
    let fifth = metrics::get(addr, "/healthz");
    assert_eq!(
        (fifth.status.as_str(), fifth.body.as_str()),
        ("HTTP/1.1 200 OK", "ok")
    );
    let answered_before = held.iter().any(|stream| {
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let ready = matches!(stream.peek(&mut byte), Ok(n) if n > 0);
        stream.set_nonblocking(false).unwrap();
        ready
    });
    assert!(
        answered_before,
        "the fifth connection was served while four held the slots"
    );
    for stream in &mut held {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(
            reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{reply}"
        );
    }
}
