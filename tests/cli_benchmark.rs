//! A short `elbus benchmark` against elbusd and busrtd 0.5.6 completes and reports all seven
//! stages of the published CLI, and the latency stages with `--latency`. No timing is asserted.

use elbus_suite::cli::{brokers, elbus, unix};

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
            ],
            None,
        );
        assert_eq!(run.code, 0, "{label}: {run:?}");
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
        let stages: Vec<&str> = doc["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .map(|s| s["stage"].as_str().expect("name"))
            .collect();
        assert_eq!(stages, STAGES, "{label}");
        let latency = doc["latency"].as_array().expect("latency");
        assert_eq!(latency.len(), 2, "{label}: {doc}");
        for stage in latency {
            assert_eq!(stage["samples"], 200, "{label}: {stage}");
            let p50 = stage["p50_us"].as_f64().expect("p50");
            let p99 = stage["p99_us"].as_f64().expect("p99");
            let p999 = stage["p99_9_us"].as_f64().expect("p99.9");
            assert!(p50 <= p99 && p99 <= p999, "{label}: {stage}");
        }
    }
}
