//! The 60-second soak run of CI (`.ci/run` runs it with `--ignored`; plain `cargo test` skips it):
//! request/reply, pub/sub, broadcasts and connection churn against `elbusd`, asserting that
//! nothing is lost unexplained and that the broker's memory shows no growth trend.

use std::time::Duration;

use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::soak::{self, SoakOptions};

/// The run's length; `ELBUS_SOAK_SECS` overrides it.
const DEFAULT_SECS: u64 = 60;
/// Memory samples of the first seconds (allocator and buffer warm-up) are left out.
const WARMUP_SECS: f64 = 5.0;
/// Allowed growth of the mean RSS from the first half of the run to the second: 10 % plus 1 MiB
/// of allocator noise. A leak of even a few bytes per operation exceeds it within a minute.
const RSS_TOLERANCE: f64 = 0.10;
const RSS_SLACK_KIB: f64 = 1024.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "60 s soak; .ci/run runs it with --ignored"]
async fn soak_elbusd() {
    let secs = std::env::var("ELBUS_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS);
    // Four workers, whatever the machine: `-w` defaults to 1 on 2 CPUs, and the soak is where
    // concurrent sessions writing into each other's sockets from several threads get exercised.
    let broker = Broker::start_with_args(
        &BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")),
        &["-w", "4"],
    );
    let mut options = SoakOptions::new(
        &broker.path(Transport::Unix),
        Some(broker.pid()),
        Duration::from_secs(secs),
    );
    options.report_every = Some(Duration::from_secs(10));
    let report = soak::run(&options).await.expect("the soak clients connect");
    eprintln!("{report}");
    assert_eq!(report.unexplained, 0, "frames lost without a refusal");
    assert!(report.refused.is_empty(), "refusals: {:?}", report.refused);
    assert_eq!(report.stalls, 0, "waits that hit the stall bound");
    assert!(report.calls > 0 && report.published > 0 && report.broadcasts > 0);
    assert!(report.churned > 0);
    let (first, second) = report.rss_halves(WARMUP_SECS).expect("memory samples");
    assert!(
        second <= first * (1.0 + RSS_TOLERANCE) + RSS_SLACK_KIB,
        "broker RSS grew from {first:.0} KiB to {second:.0} KiB (mean of each half)"
    );
    let log = broker.log();
    assert!(!log.contains("force unregistering"), "{log}");
}

/// The federation soak: two `elbusd` nodes on one nats-server, publications both ways and
/// one-to-one messages to `svc.sink@b`, for the run's length. Asserts that every frame a's
/// gateway took either arrived or was counted as dropped (at most once, nothing unexplained)
/// and that neither broker's RSS grows.
#[cfg(feature = "federation")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "60 s soak; .ci/run runs it with --ignored"]
async fn soak_federation() {
    use elbus::{AsyncClient, QoS};
    use elbus_suite::federation::{connect, node, status, wait_imports, wait_node_up};
    use elbus_suite::nats::NatsServer;

    let secs = std::env::var("ELBUS_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS);
    let nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let b = node(&nats.url(), "b", &[]);
    let (sub_a, mut events_a) = connect(a.unix_path(), "sub").await;
    let (sub_b, mut events_b) = connect(b.unix_path(), "sub").await;
    for sub in [&sub_a, &sub_b] {
        sub.subscribe("fed/soak/#", QoS::Processed)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let (_sink, mut sink_events) = connect(b.unix_path(), "svc.sink").await;
    wait_imports(a.unix_path(), 1).await;
    wait_imports(b.unix_path(), 1).await;
    wait_node_up(a.unix_path(), "b").await;
    wait_node_up(b.unix_path(), "a").await;
    let (pub_a, _) = connect(a.unix_path(), "pub").await;
    let (pub_b, _) = connect(b.unix_path(), "pub").await;

    // Receivers count what crosses: a's subscriber sees its own node's publications too.
    let count_b = tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(frame) = events_b.recv().await {
            match frame.topic() {
                Some("fed/soak/end") => break,
                Some(t) if t.starts_with("fed/soak/a") => n += 1,
                _ => {}
            }
        }
        n
    });
    let count_a = tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(frame) = events_a.recv().await {
            match frame.topic() {
                Some("fed/soak/end") => break,
                Some(t) if t.starts_with("fed/soak/b") => n += 1,
                _ => {}
            }
        }
        n
    });
    let count_sink = tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(frame) = sink_events.recv().await {
            if frame.payload() == b"end" {
                break;
            }
            n += 1;
        }
        n
    });

    let pids = [a.pid(), b.pid()];
    let mut rss: Vec<(f64, [u64; 2])> = Vec::new();
    let started = std::time::Instant::now();
    let (mut published_a, mut published_b, mut sent) = (0u64, 0u64, 0u64);
    let mut last_sample = started;
    while started.elapsed() < Duration::from_secs(secs) {
        for i in 0..10 {
            let topic = format!("fed/soak/a/{}", i % 4);
            if pub_a.publish(&topic, b"payload-a", QoS::No).await.is_ok() {
                published_a += 1;
            }
            let topic = format!("fed/soak/b/{}", i % 4);
            if pub_b.publish(&topic, b"payload-b", QoS::No).await.is_ok() {
                published_b += 1;
            }
        }
        if pub_a
            .send("svc.sink@b", b"m", QoS::Processed)
            .await
            .unwrap()
            .await
            .is_ok()
        {
            sent += 1;
        }
        if last_sample.elapsed() >= Duration::from_secs(1) {
            last_sample = std::time::Instant::now();
            let now = pids.map(|pid| elbus_suite::procstat::memory(pid).rss_kib);
            rss.push((started.elapsed().as_secs_f64(), now));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Ordered per publisher: once the end marks arrive, everything before them has too (or
    // was lost, and counted).
    pub_a
        .publish("fed/soak/end", b"", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    pub_b
        .publish("fed/soak/end", b"", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    pub_a
        .send("svc.sink@b", b"end", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    let wait = elbus_suite::wait::within;
    let (got_b, got_a, got_sink) = (
        wait("a's frames at b", count_b).await.unwrap(),
        wait("b's frames at a", count_a).await.unwrap(),
        wait("the sink's messages", count_sink).await.unwrap(),
    );
    let (status_a, status_b) = (status(a.unix_path()).await, status(b.unix_path()).await);
    eprintln!(
        "federation soak: a published {published_a} (b got {got_b}), b published {published_b} \
         (a got {got_a}), {sent} messages (sink got {got_sink}); a {status_a:?}; b {status_b:?}"
    );
    assert!(published_a > 0 && published_b > 0 && sent > 0);
    // Every frame a gateway took crossed or was counted as dropped there.
    assert_eq!(got_b + got_sink + status_a.dropped, published_a + sent);
    assert_eq!(got_a + status_b.dropped, published_b);
    assert_eq!(status_a.loop_dropped + status_b.loop_dropped, 0);
    let half = |node: usize, from: f64, to: f64| {
        let picked: Vec<f64> = rss
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, kib)| kib[node] as f64)
            .collect();
        picked.iter().sum::<f64>() / picked.len().max(1) as f64
    };
    let mid = (WARMUP_SECS + secs as f64) / 2.0;
    for (node, name) in [(0, "a"), (1, "b")] {
        let (first, second) = (half(node, WARMUP_SECS, mid), half(node, mid, f64::MAX));
        assert!(
            second <= first * (1.0 + RSS_TOLERANCE) + RSS_SLACK_KIB,
            "node {name} RSS grew from {first:.0} KiB to {second:.0} KiB (mean of each half)"
        );
    }
}
