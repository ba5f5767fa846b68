//! `elbus broker …` against busrtd 0.5.6 and elbusd: the `.broker` RPC API as a payload,
//! tables and JSON.

use elbus_suite::cli::{brokers, elbus, unix, Streaming};

#[test]
fn broker_commands() {
    for broker in brokers() {
        let path = unix(&broker);
        let label = broker.kind().label;
        let run = elbus(&[&path, "broker", "test"], None);
        assert_eq!(run.code, 0, "{label}: {run:?}");
        assert_eq!(run.stdout, "MSGPACK:\n{\n  \"ok\": true\n}\n", "{label}");
        let run = elbus(&["-s", &path, "broker", "test"], None);
        assert_eq!(run.stdout, "{\"ok\":true}\n", "{label}: {run:?}");

        let run = elbus(&[&path, "broker", "info"], None);
        assert_eq!(run.code, 0, "{label}: {run:?}");
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines[0], " field    value", "{label}");
        assert!(lines[1].chars().all(|c| c == '-'), "{label}");
        assert_eq!(
            lines[2], " author   (c) 2022 Bohemia Automation / Altertech",
            "{label}"
        );
        assert!(lines[3].starts_with(" version  "), "{label}");

        let run = elbus(&["--json", &path, "broker", "stats"], None);
        let stats: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        for key in ["uptime", "r_frames", "r_bytes", "w_frames", "w_bytes"] {
            assert!(stats[key].is_u64(), "{label}: {key} in {stats}");
        }

        let _other = Streaming::start(&["-n", "cli.other", &path, "listen"], "listening as");
        let run = elbus(&["-n", "cli.me", &path, "broker", "client.list"], None);
        assert_eq!(run.code, 0, "{label}: {run:?}");
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            [
                "name", "type", "source", "port", "r_frames", "r_bytes", "w_frames", "w_bytes",
                "queue", "ins"
            ],
            "{label}"
        );
        let names: Vec<&str> = lines[2..]
            .iter()
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        // Sorted by name, .broker included, this CLI's own client left out.
        assert_eq!(names, [".broker", "cli.other"], "{label}: {run:?}");
        let run = elbus(
            &["--json", "-n", "cli.me", &path, "broker", "client.list"],
            None,
        );
        let list: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        let other = list
            .as_array()
            .and_then(|list| list.iter().find(|c| c["name"] == "cli.other"))
            .unwrap_or_else(|| panic!("{label}: cli.other in {list}"));
        assert_eq!(other["kind"], "local_ipc", "{label}");
        assert_eq!(other["instances"], 1, "{label}");
    }
}
