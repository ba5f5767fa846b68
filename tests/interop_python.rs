//! Interop with the published Python clients: every scenario script in `tests/interop/` runs
//! with each client package (`busrt`, `elbus`, `busrt_async`) over each transport (Unix socket,
//! TCP), against every broker in [`brokers`], each run on a broker of its own.
//!
//! Needs the venv made by `.ci/run` (or `$ELBUS_PYTHON`) and `busrtd` 0.5.6 (or `$BUSRTD`);
//! without them the tests panic with a hint instead of skipping.

use std::time::Duration;

use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::python;

/// The brokers every scenario runs against. Adding a broker is one line here.
fn brokers() -> Vec<BrokerKind> {
    vec![
        BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")),
        BrokerKind::busrtd(),
    ]
}

/// Failure bound of one script run (a healthy run takes a few seconds).
const SCRIPT_BOUND: Duration = Duration::from_secs(120);

/// Runs `script --path <broker path> --client <client>` against every broker; panics with the
/// output of every failing run (and that broker's log).
fn run(script: &str, client: &str, transport: Transport) {
    let script = python::script(script);
    let mut failures = Vec::new();
    for kind in brokers() {
        let broker = Broker::start(&kind);
        let path = broker.path(transport);
        let run = python::run_script(
            &script,
            &["--path", &path, "--client", client],
            SCRIPT_BOUND,
        );
        if !run.success() {
            failures.push(format!(
                "=== {client} over {transport} against {} ===\n{run}\n--- broker log ---\n{}",
                kind.label,
                broker.log().trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// One module per scenario script, one test per client package and transport.
macro_rules! scenario {
    ($name:ident, $script:literal) => {
        mod $name {
            use super::*;

            #[test]
            fn busrt_unix() {
                run($script, "busrt", Transport::Unix);
            }

            #[test]
            fn busrt_tcp() {
                run($script, "busrt", Transport::Tcp);
            }

            #[test]
            fn elbus_unix() {
                run($script, "elbus", Transport::Unix);
            }

            #[test]
            fn elbus_tcp() {
                run($script, "elbus", Transport::Tcp);
            }

            #[test]
            fn busrt_async_unix() {
                run($script, "busrt_async", Transport::Unix);
            }

            #[test]
            fn busrt_async_tcp() {
                run($script, "busrt_async", Transport::Tcp);
            }
        }
    };
}

scenario!(registration, "registration.py");
scenario!(message, "message.py");
scenario!(broadcast, "broadcast.py");
scenario!(pubsub, "pubsub.py");
scenario!(secondary, "secondary.py");
scenario!(rpc_broker, "rpc_broker.py");
scenario!(rpc_peer, "rpc_peer.py");
