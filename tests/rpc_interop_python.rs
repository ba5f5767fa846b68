//! Byte RPC between elbus and the PyPI clients `busrt` 0.1.2 and `elbus` 0.0.15 (sync), through
//! the embedded broker on UNIX and TCP sockets: Python calls a Rust service
//! (`tests/interop/byte_rpc_caller.py`), and Rust calls a Python service
//! (`tests/interop/byte_rpc_server.py`).
//!
//! The Python interpreter is `$ELBUS_PYTHON`, else `<repo>/.venv/bin/python` (`.ci/run` creates
//! it); it needs the packages `busrt`, `elbus` and `msgpack`. Without one the tests fail with a
//! hint; they are never skipped.

use std::process::{Output, Stdio};

use elbus::rpc::{self, DummyHandlers, RpcClient};
use elbus::{AsyncClient, QoS};
use elbus_suite::python::{interpreter, script};
use elbus_suite::rpc::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn spawn_python(script_name: &str, args: &[&str]) -> Child {
    Command::new(interpreter())
        .arg(script(script_name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| panic!("unable to run {}: {err}", interpreter().display()))
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The broker path a Python client uses for `bus`: the socket file, or `host:port`.
fn python_path(bus: &Bus, unix: bool) -> String {
    if unix {
        bus.unix.to_str().unwrap().to_owned()
    } else {
        bus.tcp.to_string()
    }
}

/// Python calls the Rust test service: replies, msgpack, custom error code and message,
/// unknown method, missing target, notification and call0.
async fn python_calls_rust(package: &str, unix: bool) {
    let bus = Bus::start().await;
    let (svc, mut seen, _) = Svc::new();
    let _server = RpcClient::new(bus.local("rust.svc"), svc).unwrap();
    let name = format!("py.caller.{package}");
    let path = python_path(&bus, unix);
    let child = spawn_python(
        "byte_rpc_caller.py",
        &[package, path.as_str(), name.as_str(), "rust.svc"],
    );
    let output = within("the Python caller", child.wait_with_output())
        .await
        .unwrap();
    assert_success("byte_rpc_caller.py", &output);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OK");

    let mut calls = Vec::new();
    for _ in 0..7 {
        match next_seen(&mut seen).await {
            Seen::Call {
                method, id, sender, ..
            } => {
                assert_eq!(sender, name);
                assert_ne!(id, 0, "{method}");
                calls.push(method);
            }
            other => panic!("expected a call, got {other:?}"),
        }
    }
    assert_eq!(
        calls,
        [
            "echo",
            "add",
            "whoami",
            "empty",
            "fail",
            "add",
            "no.such.method"
        ]
    );
    // The notification and the call0 are handled in tasks of their own: any order.
    let (mut notified, mut called0) = (false, false);
    while !(notified && called0) {
        match next_seen(&mut seen).await {
            Seen::Notification { sender, data } => {
                assert_eq!(
                    (sender.as_str(), data.as_slice()),
                    (name.as_str(), &b"note from python"[..])
                );
                notified = true;
            }
            Seen::Call {
                method, id, params, ..
            } => {
                assert_eq!((method.as_str(), id), ("echo", 0));
                assert_eq!(params, b"call0 from python");
                called0 = true;
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Rust calls a Python service: replies, msgpack, error code and message, unknown method, call0,
/// and a notification that stops it.
async fn rust_calls_python<C: AsyncClient + 'static>(
    package: &str,
    bus: &Bus,
    unix: bool,
    caller: C,
) {
    let name = format!("py.server.{package}");
    let path = python_path(bus, unix);
    let mut child = spawn_python(
        "byte_rpc_server.py",
        &[package, path.as_str(), name.as_str()],
    );
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = within("the Python service to start", lines.next_line())
        .await
        .unwrap();
    assert_eq!(ready.as_deref(), Some("READY"));

    let caller_name = caller.name().to_owned();
    let rpc = RpcClient::new(caller, DummyHandlers).unwrap();
    let reply = rpc
        .call(&name, "echo", b"hi\x00there", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), b"hi\x00there");
    assert_eq!(reply.sender(), name);

    let sum = rpc
        .call(
            &name,
            "add",
            &rpc::to_msgpack(&(2, 40)).unwrap(),
            QoS::RealtimeProcessed,
        )
        .await
        .unwrap();
    assert_eq!(rpc::from_msgpack::<i64>(sum.payload()).unwrap(), 42);

    let who = rpc
        .call(&name, "whoami", b"", QoS::Processed)
        .await
        .unwrap();
    let (sender, method): (String, String) = rpc::from_msgpack(who.payload()).unwrap();
    assert_eq!(
        (sender.as_str(), method.as_str()),
        (caller_name.as_str(), "whoami")
    );

    let err = rpc
        .call(&name, "fail", b"", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.message()), (-777, Some("bad thing")));
    let err = rpc
        .call(&name, "nope", b"", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (-32601, Some("no such method"))
    );

    rpc.call0(&name, "echo", b"ignored", QoS::Processed)
        .await
        .unwrap();
    rpc.notify(&name, b"stop", QoS::Processed).await.unwrap();
    let output = within("the Python service to stop", child.wait_with_output())
        .await
        .unwrap();
    assert_success("byte_rpc_server.py", &output);
    assert_eq!(rpc.pending_calls(), 0);
    assert_eq!(rpc.stats(), rpc::RpcStats::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busrt_python_calls_rust_over_unix() {
    python_calls_rust("busrt", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busrt_python_calls_rust_over_tcp() {
    python_calls_rust("busrt", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elbus_python_calls_rust_over_unix() {
    python_calls_rust("elbus", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elbus_python_calls_rust_over_tcp() {
    python_calls_rust("elbus", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_in_process_calls_busrt_python_over_unix() {
    let bus = Bus::start().await;
    rust_calls_python("busrt", &bus, true, bus.local("rust.caller")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_socket_calls_busrt_python_over_tcp() {
    let bus = Bus::start().await;
    let caller = bus.tcp("rust.caller").await;
    rust_calls_python("busrt", &bus, false, caller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_socket_calls_elbus_python_over_unix() {
    let bus = Bus::start().await;
    let caller = bus.unix("rust.caller").await;
    rust_calls_python("elbus", &bus, true, caller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_in_process_calls_elbus_python_over_tcp() {
    let bus = Bus::start().await;
    rust_calls_python("elbus", &bus, false, bus.local("rust.caller")).await;
}
