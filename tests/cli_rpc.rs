//! The `elbus` binary's RPC commands against elbusd and busrtd 0.5.6: `rpc call` to an
//! `rpc listen` handler, `call0`, `notify`, a remote error (exit 1), a missing target (exit 3).

use elbus_suite::cli::{assert_fails, assert_ok, brokers, elbus, unix, Streaming};

#[test]
fn call_a_listening_handler() {
    for broker in brokers() {
        let path = unix(&broker);
        let label = broker.kind().label;
        let handler = Streaming::start(&["-n", "cli.h", &path, "rpc", "listen"], "listening as");
        // `rpc listen` answers every call with an empty reply.
        let run = elbus(
            &[
                "-n", "cli.c", &path, "rpc", "call", "cli.h", "do.it", "x=1", "f=true",
            ],
            None,
        );
        assert_eq!(run.code, 0, "{label}: {run:?}");
        assert_eq!(run.stdout, "EMPTY\n", "{label}");
        let event = handler.event();
        assert_eq!(
            event,
            [
                "Incoming RPC call",
                "method: do.it",
                "from cli.c (cli.c)",
                "MSGPACK:",
                "{",
                "  \"f\": true,",
                "  \"x\": 1",
                "}"
            ],
            "{label}"
        );
        assert_ok(&elbus(
            &["-n", "cli.c", &path, "rpc", "call0", "cli.h", "later"],
            None,
        ));
        assert_eq!(
            handler.event()[..3],
            ["Incoming RPC call", "method: later", "from cli.c (cli.c)"]
        );
        assert_ok(&elbus(
            &["-n", "cli.c", &path, "rpc", "notify", "cli.h", "note"],
            None,
        ));
        assert_eq!(
            handler.event(),
            [
                "Incoming RPC notification",
                "from cli.c (cli.c)",
                "STR:  note"
            ],
            "{label}"
        );
        // Params from stdin, raw.
        let run = elbus(
            &["-n", "cli.c", &path, "rpc", "call", "cli.h", "raw", "-"],
            Some(b"bytes"),
        );
        assert_eq!(run.code, 0, "{label}: {run:?}");
        assert_eq!(handler.event()[3..], ["STR:  bytes"], "{label}");
    }
}

#[test]
fn errors_have_distinct_codes() {
    for broker in brokers() {
        let path = unix(&broker);
        let run = elbus(&[&path, "rpc", "call", "cli.nobody", "m"], None);
        assert_fails(&run, 3, "call cli.nobody m: target not registered");
        let run = elbus(&[&path, "rpc", "call0", "cli.nobody", "m"], None);
        assert_fails(&run, 3, "target not registered");
        let run = elbus(&[&path, "rpc", "notify", "cli.nobody", "x"], None);
        assert_fails(&run, 3, "target not registered");
        let run = elbus(&[&path, "rpc", "call", "x", "m", "novalue"], None);
        assert_fails(&run, 2, "param `novalue` is not key=value");
        // The broker answers an unknown method with -32601: a remote error, exit 1.
        let run = elbus(&[&path, "rpc", "call", ".broker", "no.such.method"], None);
        assert_fails(
            &run,
            1,
            "call .broker no.such.method: RPC error -32601 (method not found)",
        );
    }
}
