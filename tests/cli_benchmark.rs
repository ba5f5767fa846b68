//! A short `elbus benchmark` against elbusd and busrtd 0.5.6 completes and reports all seven
//! stages of the published CLI, the latency stages with `--latency` (beside the raw socket's
//! round trip), the raw socket's one-way rate with `--raw-socket`, stage marks with
//! `--stage-marks`, and 1 MiB payloads without errors. No timing is asserted.

use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::cli::{brokers, elbus, unix};
use elbus_suite::workspace_bin;

const STAGES: [&str; 7] = [
    "rpc.call",
    "rpc.call+handle",
    "rpc.call0",
    "send.qos.no",
    "send.qos.processed",
    "send+recv.qos.no",
    "send+recv.qos.processed",
];

#[test]
fn short_benchmark_prints_all_stages() {
    for broker in brokers() {
        let path = unix(&broker);
        let label = broker.kind().label;
        let run = elbus(
            &[
                "-n",
                "cli.bench",
                &path,
                "benchmark",
                "-w",
                "2",
                "-i",
                "2000",
            ],
            None,
        );
        assert_eq!(run.code, 0, "{label}: {run:?}");
        assert!(
            run.stderr.is_empty(),
            "{label}: no progress off a terminal: {run:?}"
        );
        let rows: Vec<Vec<&str>> = run
            .stdout
            .lines()
            .map(|line| line.split_whitespace().collect())
            .collect();
        for stage in STAGES {
            let row = rows
                .iter()
                .find(|row| row.first() == Some(&stage))
                .unwrap_or_else(|| panic!("{label}: no row for {stage}: {}", run.stdout));
            assert_eq!(row[1], "2_000", "{label}: {stage} iters");
            assert_eq!(row.len(), 4, "{label}: no errors column: {row:?}");
        }
    }
}

#[test]
fn benchmark_json_and_latency() {
    for broker in brokers() {
        let path = unix(&broker);
        let label = broker.kind().label;
        let run = elbus(
            &[
                "--json",
                "-n",
                "cli.lat",
                &path,
                "benchmark",
                "-w",
                "1",
                "-i",
                "500",
                "--latency",
                "--latency-iters",
                "200",
                "--raw-socket",
                "--stage-marks",
            ],
            None,
        );
        assert_eq!(run.code, 0, "{label}: {run:?}");
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
        assert!(
            doc["raw_unix_one_way_per_sec"].as_u64().expect("raw rate") > 0,
            "{label}: {doc}"
        );
        for stage in STAGES {
            for mark in ["started", "completed"] {
                let line = format!("stage {mark}: {stage}");
                assert!(
                    run.stderr.lines().any(|l| l == line),
                    "{label}: no {line:?}: {run:?}"
                );
            }
        }
        let stages: Vec<&str> = doc["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .map(|s| s["stage"].as_str().expect("name"))
            .collect();
        assert_eq!(stages, STAGES, "{label}");
        let latency = doc["latency"].as_array().expect("latency");
        let names: Vec<&str> = latency
            .iter()
            .map(|l| l["stage"].as_str().expect("name"))
            .collect();
        // The raw socket's round trip is measured in the same run, and the ratio printed.
        assert_eq!(
            names,
            ["latency.raw.unix", "latency.rpc.call", "latency.send"],
            "{label}: {doc}"
        );
        let ratio = doc["rpc_p50_to_raw_round_trip"].as_f64().expect("ratio");
        assert!(ratio > 0.0, "{label}: {doc}");
        for stage in latency {
            assert_eq!(stage["samples"], 200, "{label}: {stage}");
            let p50 = stage["p50_us"].as_f64().expect("p50");
            let p99 = stage["p99_us"].as_f64().expect("p99");
            let p999 = stage["p99_9_us"].as_f64().expect("p99.9");
            assert!(p50 <= p99 && p99 <= p999, "{label}: {stage}");
        }
    }
}

/// 1 MiB payloads, the size at which the benchmark's clients used to be cut off mid-frame
/// ("frame not complete within 5s"): every stage completes without an error, against `elbusd`
/// and, when `BUSRTD` names one, `busrtd`. The callers now wait for the socket once 4 MiB are
/// queued instead of starving their writer, and a frame that keeps moving is never cut off.
#[test]
fn one_mib_payloads_complete_without_errors() {
    let mut brokers = vec![Broker::start(&BrokerKind::elbusd(workspace_bin("elbusd")))];
    if std::env::var_os("BUSRTD").is_some() {
        brokers.push(Broker::busrtd());
    }
    for broker in brokers {
        let path = unix(&broker);
        let label = broker.kind().label;
        let run = elbus(
            &[
                "--json",
                "-n",
                "cli.mib",
                &path,
                "benchmark",
                "-w",
                "4",
                "-i",
                "48",
                "--payload-size",
                "1048576",
            ],
            None,
        );
        assert_eq!(run.code, 0, "{label}: {run:?}");
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
        let stages = doc["stages"].as_array().expect("stages");
        assert_eq!(stages.len(), STAGES.len(), "{label}: {doc}");
        for stage in stages {
            assert_eq!(stage["iters"], 48, "{label}: {stage}");
            assert_eq!(stage["errors"], 0, "{label}: {stage}");
        }
        assert!(
            !broker.log().contains("not complete"),
            "{label}: a frame was cut off: {}",
            broker.log()
        );
    }
}

/// The `send+recv` stages keep at most 1 MiB of each worker's frames in flight: a worker
/// that writes faster than it reads its own frames no longer piles its backlog up in the
/// broker, so it stays within a per-client bound of 3 MiB. An unpaced loop of 64 KiB frames
/// is disconnected ("queue full") at this bound, and was at the default bounds with 8
/// workers.
#[test]
fn self_sends_stay_within_the_brokers_queue_bound() {
    let broker = Broker::start_with_args(
        &BrokerKind::elbusd(workspace_bin("elbusd")),
        &["--queue-bytes", "3145728"],
    );
    let path = unix(&broker);
    let run = elbus(
        &[
            "--json",
            "-n",
            "cli.window",
            &path,
            "benchmark",
            "-w",
            "4",
            "-i",
            "4000",
            "--payload-size",
            "65536",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    for stage in doc["stages"].as_array().expect("stages") {
        assert_eq!(stage["errors"], 0, "{stage}");
    }
    assert!(
        !broker.log().contains("queue full"),
        "a worker was disconnected: {}",
        broker.log()
    );
}

/// elbusd keeps the memory its large frames free (`elbus::allocator`): routing
/// thousands of 64 KiB messages costs it fewer minor page faults than messages. With glibc's
/// defaults it gave the top of its heap back after each frame and faulted it in again, about
/// 20 faults per message.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn large_frames_reuse_the_brokers_memory() {
    use elbus_suite::procstat;

    const ITERS: u64 = 2000;
    let broker = Broker::start(&BrokerKind::elbusd(workspace_bin("elbusd")));
    let path = unix(&broker);
    let before = procstat::minor_faults(broker.pid());
    let run = elbus(
        &[
            "--json",
            "-n",
            "cli.faults",
            &path,
            "benchmark",
            "-w",
            "2",
            "-i",
            &ITERS.to_string(),
            "--payload-size",
            "65536",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let faults = procstat::minor_faults(broker.pid()) - before;
    let messages = ITERS * STAGES.len() as u64;
    assert!(
        faults < messages,
        "{faults} minor page faults for {messages} messages of 64 KiB"
    );
}
