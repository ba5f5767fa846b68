//! Typed RPC against Python `msgpack` and the PyPI `busrt` 0.1.2 sync client.
//!
//! * Golden wire tests (embedded broker, in-process clients): the params a typed client really
//!   sends (captured by a raw client registered under the target name) equal
//!   `msgpack.dumps({...})` of the same call, and params and results produced by Python
//!   (`tests/interop/typed_golden.py`) decode in, and come out of, the typed handler.
//! * Cross-language over `elbusd` (the real binary, UNIX and TCP): a Python caller
//!   (`typed_caller.py`) calls the typed Rust service, and a typed Rust client calls a service
//!   written in Python (`typed_server.py`).
//!
//! The Python interpreter is `$ELBUS_PYTHON`, else `<repo>/.venv/bin/python` (`.ci/run` creates
//! it) with `busrt` and `msgpack`. Without one the tests fail with a hint; they never skip.

use std::future::Future;
use std::pin::Pin;
use std::process::{Output, Stdio};

use elbus::rpc::{DummyHandlers, RpcClient};
use elbus::{ipc, AsyncClient, EventChannel, QoS};
use elbus_rpc::{serve, CallError, RpcCall, RpcErrorCode, RpcTransport};
use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::python::{interpreter, script};
use elbus_suite::rpc::{within, Bus, FOREVER};
use elbus_suite::typed::*;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

// ---------------------------------------------------------------------------------------------
// Python helpers

fn python() -> Command {
    let mut command = Command::new(interpreter());
    command
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

fn spawn_python(script_name: &str, args: &[&str]) -> Child {
    python()
        .arg(script(script_name))
        .args(args)
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

/// One line of `typed_golden.py`.
#[derive(Debug)]
enum Golden {
    /// The params the typed client must send for the call `name`.
    Client { name: String, params: Vec<u8> },
    /// Python-made params for `method`, and the reply payload the typed service must send.
    Ok {
        name: String,
        method: String,
        params: Vec<u8>,
        result: Vec<u8>,
    },
    /// Python-made params for `method` the typed service must refuse with `code`.
    Err {
        name: String,
        method: String,
        params: Vec<u8>,
        code: i16,
    },
}

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Runs `typed_golden.py` and parses its cases.
async fn golden() -> Vec<Golden> {
    let output = within(
        "typed_golden.py",
        python().arg(script("typed_golden.py")).output(),
    )
    .await
    .expect("typed_golden.py runs");
    assert_success("typed_golden.py", &output);
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            match f[..] {
                ["client", name, params] => Golden::Client {
                    name: name.into(),
                    params: unhex(params),
                },
                ["ok", name, method, params, result] => Golden::Ok {
                    name: name.into(),
                    method: method.into(),
                    params: unhex(params),
                    result: unhex(result),
                },
                ["err", name, method, params, code] => Golden::Err {
                    name: name.into(),
                    method: method.into(),
                    params: unhex(params),
                    code: code.parse().unwrap(),
                },
                _ => panic!("unexpected golden line {line:?}"),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Golden wire tests

type Call<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Sends `call`, ignoring its outcome (the capturing target never answers).
fn fire<'a, R, E, T>(call: RpcCall<'a, R, E, T>) -> Call<'a>
where
    R: DeserializeOwned + Send + 'a,
    E: RpcErrorCode + Send + 'a,
    T: RpcTransport,
{
    Box::pin(async move {
        let _ = call.send().await;
    })
}

/// The request a typed call really puts on the bus: `(call id, method, params)` as received by
/// the raw client registered under the target name.
async fn capture(events: &mut EventChannel, call: Call<'_>) -> (u32, String, Vec<u8>) {
    tokio::pin!(call);
    let frame = tokio::select! {
        frame = within("the request", events.recv()) => frame,
        // A notification resolves once the broker took it; its frame is then on its way.
        () = &mut call => within("the request", events.recv()).await,
    }
    .expect("the capturing client is connected");
    let payload = frame.payload();
    assert_eq!(payload[0], 0x01, "not an RPC request: {payload:x?}");
    let id = u32::from_le_bytes(payload[1..5].try_into().unwrap());
    let end = 5 + payload[5..].iter().position(|&b| b == 0).expect("NUL");
    let method = std::str::from_utf8(&payload[5..end]).unwrap().to_owned();
    (id, method, payload[end + 1..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_params_equal_python_msgpack() {
    let cases = golden().await;
    let bus = Bus::start().await;
    let raw = bus.local("svc.raw");
    let mut events = raw.take_event_channel().unwrap();
    let rpc = RpcClient::new(bus.local("caller"), DummyHandlers).unwrap();
    let calc = CalcClient::new(rpc.clone(), "svc.raw");

    let mut checked = 0;
    for case in &cases {
        let Golden::Client { name, params } = case else {
            continue;
        };
        let (call, method, notify): (Call<'_>, _, _) = match name.as_str() {
            "add" => (fire(calc.add(1, 2)), "calc.add", false),
            "add_wide" => (fire(calc.add(-1, 300)), "calc.add", false),
            "add_big" => (fire(calc.add(-(1 << 40), 1 << 40)), "calc.add", false),
            "sum" => (fire(calc.sum(vec![1, 2, 3], 2)), "calc.sum_all", false),
            "greet_none" => (fire(calc.greet("bob".into(), None)), "calc.greet", false),
            "greet_some" => (
                fire(calc.greet("bøb".into(), Some("hi".into()))),
                "calc.greet",
                false,
            ),
            "clear" => (fire(calc.clear()), "calc.clear", false),
            "reset" => (fire(calc.reset("manual".into())), "calc.reset", true),
            "fail_long" => (fire(calc.fail("x".repeat(40))), "calc.fail", false),
            other => panic!("no Rust call for the golden case {other}"),
        };
        let (id, sent_method, sent) = capture(&mut events, call).await;
        assert_eq!(sent_method, method, "{name}");
        assert_eq!(id == 0, notify, "{name}: call id {id}");
        assert_eq!(
            sent, *params,
            "{name}: the typed client sent {sent:02x?}, Python's msgpack.dumps gives {params:02x?}"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 9,
        "every client case of typed_golden.py is checked"
    );
    // The abandoned calls left nothing behind.
    assert_eq!(rpc.pending_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_params_decode_in_the_typed_handler() {
    let cases = golden().await;
    let bus = Bus::start().await;
    let (router, _seen) = test_router();
    let _server = serve(bus.local("svc.calc"), router).unwrap();
    let rpc = RpcClient::new(bus.local("caller"), DummyHandlers).unwrap();

    let (mut ok, mut err) = (0, 0);
    for case in &cases {
        match case {
            Golden::Client { .. } => {}
            Golden::Ok {
                name,
                method,
                params,
                result,
            } => {
                let reply = rpc
                    .call("svc.calc", method, params, QoS::Processed)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {method} failed: {e}"));
                assert_eq!(
                    reply.payload(),
                    &result[..],
                    "{name}: the reply differs from Python's msgpack.dumps"
                );
                ok += 1;
            }
            Golden::Err {
                name,
                method,
                params,
                code,
            } => {
                let e = rpc
                    .call("svc.calc", method, params, QoS::Processed)
                    .await
                    .unwrap_err();
                assert_eq!(e.code(), *code, "{name}: {e}");
                err += 1;
            }
        }
    }
    assert_eq!(
        (ok, err),
        (13, 5),
        "every case of typed_golden.py is checked"
    );
}

// ---------------------------------------------------------------------------------------------
// Cross-language over elbusd

fn elbusd() -> Broker {
    tokio::task::block_in_place(|| Broker::start(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd"))))
}

async fn connect(path: &str, name: &str) -> ipc::Client {
    within(
        "connecting to elbusd",
        ipc::Client::connect(&ipc::Config::new(path, name)),
    )
    .await
    .unwrap()
}

/// A Python `busrt` client calls the typed Rust service: results, typed errors with their code
/// and message, protocol errors, and `calc.reset` as call0.
async fn python_calls_typed_rust(transport: Transport) {
    let broker = elbusd();
    let path = broker.path(transport);
    let (router, mut seen) = test_router();
    let _server = serve(connect(&path, "svc.calc").await, router).unwrap();

    let child = spawn_python("typed_caller.py", &[&path, "py.caller", "svc.calc"]);
    let output = within("the Python caller", child.wait_with_output())
        .await
        .unwrap();
    assert_success("typed_caller.py", &output);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OK");
    let reset = within("the reset notification", seen.recv()).await;
    assert_eq!(
        reset,
        Some(Seen::Reset {
            sender: "py.caller".into(),
            call_id: 0,
            reason: "from python".into()
        })
    );
}

/// The next line the Python service prints.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>, what: &str) -> String {
    within(what, lines.next_line())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("the Python service exited before {what}"))
}

/// A typed Rust client calls a service written in Python with `busrt.rpc.Rpc`.
async fn typed_rust_calls_python(transport: Transport) {
    let broker = elbusd();
    let path = broker.path(transport);
    let mut child = spawn_python("typed_server.py", &[&path, "py.calc"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut lines, "READY").await, "READY");

    let rpc = RpcClient::new(connect(&path, "rust.caller").await, DummyHandlers).unwrap();
    let calc = CalcClient::new(rpc.clone(), "py.calc");
    assert_eq!(calc.add(40, 2).await, Ok(42));
    assert_eq!(calc.sum(vec![1, 2, 3], 2).await, Ok(12));
    assert_eq!(calc.greet("ann".into(), None).await.unwrap(), "hello, ann");
    assert_eq!(
        calc.greet("bob".into(), Some("hi".into())).await.unwrap(),
        "hi, bob"
    );
    assert_eq!(
        calc.whoami().await.unwrap(),
        ("rust.caller".to_owned(), "rust.caller".to_owned())
    );
    assert_eq!(calc.clear().await, Ok(()));
    assert_eq!(
        EchoClient::new(rpc.clone(), "py.calc")
            .echo("ünï".into())
            .await
            .unwrap(),
        "ünï"
    );
    // Python's `RpcException(message, code)` comes back as the typed error.
    assert_eq!(
        calc.fail("bad digit: ½".into()).await,
        Err(CallError::App(CalcError::BadInput("bad digit: ½".into())))
    );
    assert_eq!(
        calc.add(i64::MAX, 1).await,
        Err(CallError::App(CalcError::Overflow))
    );
    let skew = CalcSkewClient::new(rpc.clone(), "py.calc");
    assert_eq!(skew.nope().await, Err(CallError::MethodNotFound));
    assert!(matches!(
        skew.add("1".into(), "2".into()).await,
        Err(CallError::InvalidParams(_))
    ));
    // A Python handler that doesn't answer in time.
    assert_eq!(
        calc.hang()
            .timeout(std::time::Duration::from_millis(100))
            .await,
        Err(CallError::Timeout)
    );
    assert_eq!(rpc.pending_calls(), 0);
    // The one-way method reaches Python as a call with id 0.
    assert_eq!(
        calc.reset("from rust".into()).timeout(FOREVER).await,
        Ok(())
    );
    assert_eq!(
        next_line(&mut lines, "RESET").await,
        "RESET 0 rust.caller from rust"
    );

    rpc.notify("py.calc", b"stop", QoS::Processed)
        .await
        .unwrap();
    let status = within("the Python service to stop", child.wait())
        .await
        .unwrap();
    assert!(status.success(), "typed_server.py exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_calls_typed_rust_over_unix() {
    python_calls_typed_rust(Transport::Unix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_calls_typed_rust_over_tcp() {
    python_calls_typed_rust(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_rust_calls_python_over_unix() {
    typed_rust_calls_python(Transport::Unix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_rust_calls_python_over_tcp() {
    typed_rust_calls_python(Transport::Tcp).await;
}
