//! The `elbus` binary's plain bus commands against elbusd and busrtd 0.5.6: `send` (OK, a
//! missing target, broadcasts, stdin payloads), `publish` seen by `listen`, exit codes.

use std::net::TcpListener;

use elbus_suite::cli::{assert_fails, assert_ok, brokers, elbus, unix, Streaming};

#[test]
fn send_ok_and_missing_target() {
    for broker in brokers() {
        let path = unix(&broker);
        let label = broker.kind().label;
        let _target = Streaming::start(&["-n", "cli.target", &path, "listen"], "listening as");
        assert_ok(&elbus(&[&path, "send", "cli.target", "hello"], None));
        let run = elbus(&[&path, "send", "cli.nobody", "hello"], None);
        assert_fails(&run, 3, "send to cli.nobody: target not registered");
        assert!(run.stdout.is_empty(), "{label}: {run:?}");
        // A mask is a broadcast, which the broker ACKs even with nobody matching.
        assert_ok(&elbus(&[&path, "send", "nobody.*", "hello"], None));
        // --json prints one document.
        let run = elbus(&["--json", &path, "send", "cli.target", "x"], None);
        assert_eq!(run.code, 0, "{label}: {run:?}");
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        assert_eq!(doc, serde_json::json!({"ok": true}), "{label}");
    }
}

#[test]
fn publish_is_printed_by_listen() {
    for broker in brokers() {
        let path = unix(&broker);
        let label = broker.kind().label;
        let listen = Streaming::start(
            &[
                "-n",
                "cli.listener",
                &path,
                "listen",
                "-t",
                "x/#",
                "--exclude",
                "x/no",
            ],
            "listening as",
        );
        assert_ok(&elbus(
            &["-n", "cli.pub", &path, "publish", "x/no", "excluded"],
            None,
        ));
        assert_ok(&elbus(
            &["-n", "cli.pub", &path, "publish", "x/a", r#"{"a":1}"#],
            None,
        ));
        let event = listen.event_with("Publish from cli.pub");
        assert_eq!(
            event,
            [
                "Publish from cli.pub (cli.pub)",
                "topic: x/a",
                "JSON:",
                "{",
                "  \"a\": 1",
                "}"
            ],
            "{label}: the excluded topic must not arrive first"
        );
        // The payload from stdin: MessagePack {"a": 1}.
        let run = elbus(
            &["-n", "cli.pub", &path, "publish", "x/b"],
            Some(b"\x81\xa1a\x01"),
        );
        assert_ok(&run);
        let event = listen.event_with("Publish from cli.pub");
        assert_eq!(event[1], "topic: x/b", "{label}");
        assert_eq!(event[2..], ["MSGPACK:", "{", "  \"a\": 1", "}"], "{label}");
        // A message to the listener, and a broadcast.
        assert_ok(&elbus(
            &["-n", "cli.s", &path, "send", "cli.listener", "hi"],
            None,
        ));
        let event = listen.event_with("Message from cli.s");
        assert_eq!(event[1..], ["STR:  hi"], "{label}");
        assert_ok(&elbus(
            &["-n", "cli.s", &path, "send", "cli.*", "\u{1}\u{2}"],
            None,
        ));
        let event = listen.event_with("Broadcast from cli.s");
        assert_eq!(event[1..], ["HEX: 0102"], "{label}");
    }
}

#[test]
fn listen_json_prints_one_document_per_frame() {
    for broker in brokers() {
        let path = unix(&broker);
        let listen = Streaming::start(
            &["--json", "-n", "cli.jl", &path, "listen", "-t", "j/+"],
            "listening as",
        );
        assert_ok(&elbus(
            &["-n", "cli.jp", &path, "publish", "j/1", "text"],
            None,
        ));
        let doc = loop {
            let doc: serde_json::Value = serde_json::from_str(&listen.line()).expect("JSON line");
            if doc["sender"] == "cli.jp" {
                break doc;
            }
        };
        assert_eq!(
            doc,
            serde_json::json!({
                "kind": "publish", "sender": "cli.jp", "primary_sender": "cli.jp",
                "topic": "j/1", "realtime": false,
                "payload": {"format": "str", "value": "text"}
            })
        );
    }
}

#[test]
fn connection_failures_and_timeouts_have_their_own_codes() {
    let run = elbus(&["/nonexistent/elbus-test.sock", "send", "x", "y"], None);
    assert_fails(&run, 5, "connecting to /nonexistent/elbus-test.sock");
    // A server that accepts and never answers the handshake: the connect times out.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr").to_string();
    let run = elbus(&["--timeout", "0.3", &addr, "publish", "t", "p"], None);
    assert_fails(&run, 4, "timed out");
    // Usage errors are clap's: exit 2.
    let run = elbus(&[&addr, "no-such-command"], None);
    assert_eq!(run.code, 2, "{run:?}");
    // --help documents the exit codes.
    let run = elbus(&["--help"], None);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Exit codes:"), "{run:?}");
    assert!(run.stdout.contains("3  the target is not registered"));
}
