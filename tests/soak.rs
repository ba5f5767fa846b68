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
