//! The published `busrt` 0.5.6 CLI against `elbusd` started with its defaults: `broker test`,
//! `broker client.list`, `send`, `publish`, `listen`, `rpc call`, and its full benchmark
//! `busrt SOCKET benchmark -w 8 -i 1000000`, which must complete (busrtd's own default queue
//! cannot finish it).

use std::path::PathBuf;

use elbus::ipc::{Client, Config};
use elbus::rpc::{RpcClient, RpcEvent, RpcHandlers, RpcResult};
use elbus_suite::broker::{find_binary, Broker, BrokerKind};
use elbus_suite::cli::{run, Streaming};

fn busrt() -> PathBuf {
    find_binary("BUSRT", "busrt").unwrap_or_else(|| {
        panic!(
            "the busrt CLI was not found (env BUSRT, ~/.cargo/bin/busrt, PATH); install it with \
             `cargo install busrt --version 0.5.6 --features server,cli` or run `.ci/run`"
        )
    })
}

/// The next event `listen` printed that has a line containing `text` (busrt starts each event
/// with a log line, so the header is not always first).
fn event_containing(listener: &Streaming, text: &str) -> Vec<String> {
    loop {
        let event = listener.event();
        if event.iter().any(|line| line.contains(text)) {
            return event;
        }
    }
}

fn elbusd() -> Broker {
    Broker::start(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")))
}

#[test]
fn broker_test_and_client_list() {
    let broker = elbusd();
    let socket = broker.paths()[0];
    let test = run(&busrt(), &[socket, "broker", "test"], None);
    assert_eq!(test.code, 0, "{test:?}");
    assert!(test.stdout.contains("\"ok\": true"), "{test:?}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _visible = runtime
        .block_on(Client::connect(&Config::new(socket, "visible.client")))
        .unwrap();
    let list = run(
        &busrt(),
        &[socket, "-n", "cli.lister", "broker", "client.list"],
        None,
    );
    assert_eq!(list.code, 0, "{list:?}");
    assert!(list.stdout.contains(".broker"), "{list:?}");
    assert!(list.stdout.contains("visible.client"), "{list:?}");
    assert!(list.stdout.contains("local_ipc"), "{list:?}");
}

#[test]
fn send_publish_and_listen() {
    let broker = elbusd();
    let socket = broker.paths()[0];
    let listener = Streaming::start_program(
        &busrt(),
        &[socket, "-n", "busrt.listener", "listen", "-t", "x/#"],
        "Listening to messages",
    );
    let published = run(&busrt(), &[socket, "publish", "x/a", "hello"], None);
    // busrt logs to stdout too; its answer is the last line.
    assert_eq!(
        (published.code, published.stdout.lines().last()),
        (0, Some("OK")),
        "{published:?}"
    );
    let event = event_containing(&listener, "Publish from");
    assert!(event.iter().any(|l| l == "topic: x/a"), "{event:?}");
    assert!(event.iter().any(|l| l == "STR:  hello"), "{event:?}");

    let sent = run(
        &busrt(),
        &[socket, "send", "busrt.listener", "direct"],
        None,
    );
    assert_eq!(
        (sent.code, sent.stdout.lines().last()),
        (0, Some("OK")),
        "{sent:?}"
    );
    let event = event_containing(&listener, "Message from");
    assert!(event.iter().any(|l| l == "STR:  direct"), "{event:?}");
}

/// Echoes the params of `echo`; anything else is an unknown method.
struct Echo;

impl RpcHandlers for Echo {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        match event.parse_method()? {
            "echo" => Ok(Some(event.payload().to_vec())),
            _ => Err(elbus::rpc::RpcError::method(None)),
        }
    }
}

#[test]
fn rpc_call_to_a_rust_handler() {
    let broker = elbusd();
    let socket = broker.paths()[0];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _service = runtime.block_on(async {
        let client = Client::connect(&Config::new(socket, "svc.echo"))
            .await
            .unwrap();
        RpcClient::new(client, Echo).unwrap()
    });
    let call = run(
        &busrt(),
        &[socket, "rpc", "call", "svc.echo", "echo", "a=1", "b=x"],
        None,
    );
    assert_eq!(call.code, 0, "{call:?}");
    assert!(call.stdout.contains("\"a\": 1"), "{call:?}");
    assert!(call.stdout.contains("\"b\": \"x\""), "{call:?}");
    let unknown = run(&busrt(), &[socket, "rpc", "call", "svc.echo", "nope"], None);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        (unknown.stdout.clone() + &unknown.stderr).contains("-32601"),
        "{unknown:?}"
    );
}

/// Every stage of the published benchmark with its eight workers, at a quarter of the million
/// iterations it was first run with here (that run took over three minutes of CI time).
#[test]
fn the_full_published_benchmark_completes() {
    let broker = elbusd();
    let socket = broker.paths()[0];
    let bench = run(
        &busrt(),
        &[socket, "benchmark", "-w", "8", "-i", "250000"],
        None,
    );
    assert_eq!(bench.code, 0, "{bench:?}\n--- elbusd ---\n{}", broker.log());
    for stage in [
        "rpc.call ",
        "rpc.call+handle",
        "rpc.call0",
        "send.qos.no",
        "send.qos.processed",
        "send+recv.qos.no",
        "send+recv.qos.processed",
    ] {
        assert!(
            bench.stdout.contains(&format!("stage completed: {stage}")),
            "{stage} did not complete: {bench:?}"
        );
    }
}
