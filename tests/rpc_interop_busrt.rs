//! Byte RPC between elbus and the published Rust client (crates.io `busrt` 0.5.6, features `ipc`
//! and `rpc`) through the embedded elbus broker: busrt's `RpcClient` calls an elbus service, and
//! an elbus `RpcClient` calls a busrt service.

use busrt::async_trait;
use busrt::borrow::Cow;
use busrt::rpc::{Rpc, RpcHandlers as BusrtHandlers};
use elbus::rpc::{self, DummyHandlers, RpcClient};
use elbus::QoS;
use elbus_suite::rpc::*;

async fn busrt_client(bus: &Bus, name: &str) -> busrt::ipc::Client {
    let config = busrt::ipc::Config::new(bus.unix.to_str().unwrap(), name);
    busrt::ipc::Client::connect(&config).await.unwrap()
}

/// A busrt 0.5.6 service: `echo`, `whoami`, `fail` (-777 "bad thing"), and busrt's default
/// (-32601, no data) for anything else.
struct BusrtSvc;

#[async_trait]
impl BusrtHandlers for BusrtSvc {
    async fn handle_call(&self, event: busrt::rpc::RpcEvent) -> busrt::rpc::RpcResult {
        match event.parse_method() {
            Ok("echo") => Ok(Some(event.payload().to_vec())),
            Ok("whoami") => Ok(Some(event.sender().as_bytes().to_vec())),
            Ok("fail") => Err(busrt::rpc::RpcError::new(-777, Some(b"bad thing".to_vec()))),
            _ => Err(busrt::rpc::RpcError::method(None)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busrt_rpc_client_calls_elbus_service() {
    let bus = Bus::start().await;
    let (svc, mut seen, _) = Svc::new();
    let _server = RpcClient::new(bus.unix("elbus.svc").await, svc).unwrap();
    let caller = busrt::rpc::RpcClient::new0(busrt_client(&bus, "busrt.caller").await);

    let params = rpc::to_msgpack(&(2, 40)).unwrap();
    let sum = within(
        "busrt's call",
        caller.call(
            "elbus.svc",
            "add",
            Cow::Borrowed(&params),
            busrt::QoS::Processed,
        ),
    )
    .await
    .unwrap();
    assert_eq!(rpc::from_msgpack::<i64>(sum.payload()).unwrap(), 42);
    // busrt's reply event: the realtime flag of our reply mirrors the request's.
    let echo = caller
        .call(
            "elbus.svc",
            "echo",
            Cow::Borrowed(b"rt"),
            busrt::QoS::RealtimeProcessed,
        )
        .await
        .unwrap();
    assert_eq!(echo.payload(), b"rt");
    assert!(echo.frame().is_realtime());

    let err = caller
        .call(
            "elbus.svc",
            "fail",
            Cow::Borrowed(b""),
            busrt::QoS::Processed,
        )
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.data()), (-777, Some(&b"boom"[..])));
    let err = caller
        .call(
            "elbus.svc",
            "nope",
            Cow::Borrowed(b""),
            busrt::QoS::Processed,
        )
        .await
        .unwrap_err();
    // busrt hands empty error data over as `Some([])`.
    assert_eq!(
        (err.code(), err.data().unwrap_or_default()),
        (-32601, &b""[..])
    );
    let err = caller
        .call("nobody", "echo", Cow::Borrowed(b""), busrt::QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!(err.code(), -32113);

    let confirm = caller
        .notify("elbus.svc", Cow::Borrowed(b"note"), busrt::QoS::Processed)
        .await
        .unwrap();
    confirm.unwrap().await.unwrap().unwrap();
    let confirm = caller
        .call0(
            "elbus.svc",
            "echo",
            Cow::Borrowed(b"zero"),
            busrt::QoS::Processed,
        )
        .await
        .unwrap();
    confirm.unwrap().await.unwrap().unwrap();

    let mut calls = Vec::new();
    let (mut notified, mut called0) = (false, false);
    while !(notified && called0) {
        match next_seen(&mut seen).await {
            Seen::Call {
                method,
                id: 0,
                params,
                ..
            } => {
                assert_eq!((method.as_str(), params.as_slice()), ("echo", &b"zero"[..]));
                called0 = true;
            }
            Seen::Call { method, sender, .. } => {
                assert_eq!(sender, "busrt.caller");
                calls.push(method);
            }
            Seen::Notification { sender, data } => {
                assert_eq!(
                    (sender.as_str(), data.as_slice()),
                    ("busrt.caller", &b"note"[..])
                );
                notified = true;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(calls, ["add", "echo", "fail", "nope"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elbus_rpc_client_calls_busrt_service() {
    let bus = Bus::start().await;
    let _server = busrt::rpc::RpcClient::new(busrt_client(&bus, "busrt.svc").await, BusrtSvc);
    let local = bus.local("elbus.local");
    let socket = bus.tcp("elbus.socket").await;
    let local = RpcClient::new(local, DummyHandlers).unwrap();
    let socket = RpcClient::new(socket, DummyHandlers).unwrap();

    let reply = local
        .call("busrt.svc", "echo", b"a\0b", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), b"a\0b");
    assert!(!reply.frame().is_realtime());
    let reply = socket
        .call("busrt.svc", "echo", b"rt", QoS::RealtimeProcessed)
        .await
        .unwrap();
    assert!(
        reply.frame().is_realtime(),
        "busrt mirrors the realtime flag"
    );
    let who = socket
        .call("busrt.svc", "whoami", b"", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(who.payload(), b"elbus.socket");

    let err = local
        .call("busrt.svc", "fail", b"", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.message()), (-777, Some("bad thing")));
    let err = socket
        .call("busrt.svc", "nope", b"", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.data()), (-32601, None));
    socket
        .call0("busrt.svc", "echo", b"", QoS::Processed)
        .await
        .unwrap();
    socket
        .notify("busrt.svc", b"n", QoS::Processed)
        .await
        .unwrap();
    // A reply to the call0 would be an orphan, and would arrive before this one.
    socket
        .call("busrt.svc", "echo", b"", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(socket.stats(), rpc::RpcStats::default());
    assert_eq!((local.pending_calls(), socket.pending_calls()), (0, 0));
}
