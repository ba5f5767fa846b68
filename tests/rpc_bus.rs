//! The byte RPC layer (`elbus::rpc`) between Rust peers through the embedded broker: every
//! scenario runs with in-process clients and with socket clients over UNIX and TCP.

use std::time::Duration;

use elbus::broker::ServerConfig;
use elbus::rpc::{self, DummyHandlers, RpcClient, RpcError, RpcEvent, RpcOptions};
use elbus::{ipc, AsyncClient, FrameKind, QoS};
use elbus_suite::rpc::*;
use tokio::sync::mpsc;

/// The service's and the caller's clients of a scenario, registered as `svc` and `caller`.
async fn connect_pair<C: Connect>(bus: &Bus, via: Via) -> (C, C) {
    (
        C::connect(bus, via, "svc").await,
        C::connect(bus, via, "caller").await,
    )
}

elbus_suite::on_every_transport!(
    calls_replies_and_errors,
    call0_and_notifications,
    concurrent_calls,
    timeouts_and_dropped_calls_leave_nothing_pending,
    replies_mirror_the_realtime_flag,
    ordered_notifications_and_untouched_frames,
    invalid_payloads_are_counted,
);

async fn calls_replies_and_errors<C: Connect>(bus: &Bus, via: Via) {
    let (server, caller) = connect_pair::<C>(bus, via).await;
    let (svc, mut seen, _) = Svc::new();
    let server = RpcClient::new(server, svc).unwrap();
    let caller = RpcClient::new(caller, DummyHandlers).unwrap();

    let reply = caller
        .call("svc", "echo", b"\x00abc\x01", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), b"\x00abc\x01");
    assert_eq!(reply.sender(), "svc");
    match next_seen(&mut seen).await {
        Seen::Call {
            method,
            id,
            sender,
            params,
        } => {
            assert_eq!((method.as_str(), sender.as_str()), ("echo", "caller"));
            assert_ne!(id, 0);
            assert_eq!(params, b"\x00abc\x01");
        }
        other => panic!("{other:?}"),
    }

    let sum = caller
        .call(
            "svc",
            "add",
            &rpc::to_msgpack(&(2, 40)).unwrap(),
            QoS::Processed,
        )
        .await
        .unwrap();
    assert_eq!(rpc::from_msgpack::<i64>(sum.payload()).unwrap(), 42);
    let bad = caller
        .call("svc", "add", b"\xc1", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!(bad.code(), rpc::RPC_ERROR_CODE_INVALID_METHOD_PARAMS);

    let whoami = caller
        .call("svc", "whoami", b"", QoS::Processed)
        .await
        .unwrap();
    let (sender, primary): (String, String) = rpc::from_msgpack(whoami.payload()).unwrap();
    assert_eq!((sender.as_str(), primary.as_str()), ("caller", "caller"));

    let empty = caller
        .call("svc", "empty", b"", QoS::Processed)
        .await
        .unwrap();
    assert!(empty.payload().is_empty());

    let err = caller
        .call("svc", "fail", b"", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.message()), (-777, Some("boom")));

    let err = caller
        .call("svc", "no.such.method", b"", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.data()), (-32601, None));

    // The caller serves DummyHandlers: -32601 with empty data, like the broker.
    let err = server
        .call("caller", "anything", b"", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.data()), (-32601, None));

    // A missing target fails at once from the ACK (sockets) or the in-process client's
    // immediate NotRegistered, never from the timeout.
    let err = within(
        "the missing-target error",
        caller.call_with_timeout("nobody", "echo", b"", QoS::Processed, FOREVER),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), -32113);
    let err = within(
        "call0 to nobody",
        caller.call0("nobody", "m", b"", QoS::Processed),
    )
    .await;
    assert_eq!(err.unwrap_err().code(), -32113);
    let err = within(
        "notify to nobody",
        caller.notify("nobody", b"", QoS::Processed),
    )
    .await;
    assert_eq!(err.unwrap_err().code(), -32113);

    // Bad method names are refused before anything is sent.
    for method in ["", "a\0b"] {
        let err = caller
            .call("svc", method, b"", QoS::Processed)
            .await
            .unwrap_err();
        assert_eq!(err.code(), -32600, "{method:?}");
        assert_eq!(
            caller
                .call0("svc", method, b"", QoS::Processed)
                .await
                .unwrap_err()
                .code(),
            -32600
        );
    }

    assert_eq!(caller.pending_calls(), 0);
    assert_eq!(caller.stats(), rpc::RpcStats::default());
    assert_eq!(server.stats(), rpc::RpcStats::default());
    assert!(caller.is_connected());
    // Nothing else reached the service: the refused calls were never sent.
    let _ = caller
        .call("svc", "echo", b"last", QoS::Processed)
        .await
        .unwrap();
    let mut methods = Vec::new();
    while let Ok(Seen::Call { method, .. }) = seen.try_recv() {
        methods.push(method);
    }
    assert_eq!(
        methods,
        [
            "add",
            "add",
            "whoami",
            "empty",
            "fail",
            "no.such.method",
            "echo"
        ]
    );
}

async fn call0_and_notifications<C: Connect>(bus: &Bus, via: Via) {
    let (server, caller) = connect_pair::<C>(bus, via).await;
    let (svc, mut seen, _) = Svc::new();
    let _server = RpcClient::new(server, svc).unwrap();
    let caller = RpcClient::new(caller, DummyHandlers).unwrap();

    caller
        .call0("svc", "fail", b"p\0q", QoS::Processed)
        .await
        .unwrap();
    match next_seen(&mut seen).await {
        Seen::Call {
            method, id, params, ..
        } => {
            assert_eq!(
                (method.as_str(), id, params.as_slice()),
                ("fail", 0, &b"p\0q"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    caller.notify("svc", b"note", QoS::Processed).await.unwrap();
    match next_seen(&mut seen).await {
        Seen::Notification { sender, data } => {
            assert_eq!((sender.as_str(), data.as_slice()), ("caller", &b"note"[..]));
        }
        other => panic!("{other:?}"),
    }
    // No reply came back for the call with id 0: a reply would be an orphan by now, since the
    // echo reply below travels behind it.
    caller
        .call("svc", "echo", b"", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(caller.stats(), rpc::RpcStats::default());
}

async fn concurrent_calls<C: Connect>(bus: &Bus, via: Via) {
    let (server, caller) = connect_pair::<C>(bus, via).await;
    let (svc, _seen, _) = Svc::new();
    let _server = RpcClient::new(server, svc).unwrap();
    let caller = RpcClient::new(caller, DummyHandlers).unwrap();

    // The barrier opens only when CONCURRENT calls are inside the handler at once, so this
    // finishes only if requests are handled concurrently.
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..CONCURRENT {
        let caller = caller.clone();
        calls.spawn(async move {
            let reply = caller
                .call_with_timeout(
                    "svc",
                    "barrier",
                    n.to_string().as_bytes(),
                    QoS::Processed,
                    FOREVER,
                )
                .await;
            (n, reply)
        });
    }
    // Many more plain calls at once: every reply reaches its own caller.
    for n in CONCURRENT..CONCURRENT + 200 {
        let caller = caller.clone();
        calls.spawn(async move {
            (
                n,
                caller
                    .call("svc", "echo", n.to_string().as_bytes(), QoS::Processed)
                    .await,
            )
        });
    }
    let mut done = 0;
    while let Some(joined) = within("the concurrent calls", calls.join_next()).await {
        let (n, reply) = joined.unwrap();
        assert_eq!(reply.unwrap().payload(), n.to_string().as_bytes());
        done += 1;
    }
    assert_eq!(done, CONCURRENT + 200);
    assert_eq!(caller.pending_calls(), 0);
}

async fn timeouts_and_dropped_calls_leave_nothing_pending<C: Connect>(bus: &Bus, via: Via) {
    let (server, caller) = connect_pair::<C>(bus, via).await;
    let (svc, mut seen, gate) = Svc::new();
    let _server = RpcClient::new(server, svc).unwrap();
    let short = Duration::from_millis(200);
    let caller =
        RpcClient::create(caller, DummyHandlers, RpcOptions::new().timeout(short)).unwrap();

    // The client's default timeout.
    let err = caller
        .call("svc", "hang", b"", QoS::Processed)
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.code(), -32120);
    assert_eq!(caller.pending_calls(), 0);
    started(&mut seen, "hang").await;

    // A per-call timeout overrides it.
    let err = caller
        .call_with_timeout(
            "svc",
            "hang",
            b"",
            QoS::Processed,
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), -32120);
    assert_eq!(caller.pending_calls(), 0);
    started(&mut seen, "hang").await;

    // A call future dropped while waiting leaves nothing behind, and its late reply is an
    // orphan, counted and dropped.
    {
        let call = caller.call_with_timeout("svc", "gate", b"", QoS::Processed, FOREVER);
        tokio::pin!(call);
        tokio::select! {
            reply = &mut call => panic!("the gate call returned early: {reply:?}"),
            _ = started(&mut seen, "gate") => {}
        }
        assert_eq!(caller.pending_calls(), 1);
    }
    assert_eq!(caller.pending_calls(), 0);
    gate.notify_one();
    wait_until("the orphaned reply", || {
        caller.stats().orphaned_replies == 1
    })
    .await;
    // The client still works.
    let reply = caller
        .call("svc", "echo", b"ok", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), b"ok");
    assert_eq!(caller.stats().invalid_payloads, 0);
}

async fn replies_mirror_the_realtime_flag<C: Connect>(bus: &Bus, via: Via) {
    let (server, caller) = connect_pair::<C>(bus, via).await;
    let (svc, _seen, _) = Svc::new();
    let _server = RpcClient::new(server, svc).unwrap();
    let caller = RpcClient::new(caller, DummyHandlers).unwrap();
    for (qos, realtime) in [
        (QoS::Processed, false),
        (QoS::RealtimeProcessed, true),
        (QoS::Realtime, true),
        (QoS::No, false),
    ] {
        let reply = caller.call("svc", "echo", b"x", qos).await.unwrap();
        assert_eq!(reply.frame().is_realtime(), realtime, "{qos:?}");
    }
}

async fn ordered_notifications_and_untouched_frames<C: Connect>(bus: &Bus, via: Via) {
    let (server, caller) = connect_pair::<C>(bus, via).await;
    let (svc, mut seen, _) = Svc::new();
    let options = RpcOptions::new().blocking_notifications().blocking_frames();
    let server = RpcClient::create(server, svc, options).unwrap();
    acked(server.client().subscribe("news/#", QoS::Processed)).await;
    let caller = RpcClient::new(caller, DummyHandlers).unwrap();

    const N: usize = 100;
    for n in 0..N {
        caller
            .notify("svc", n.to_string().as_bytes(), QoS::No)
            .await
            .unwrap();
    }
    // Payloads that look like RPC must still reach handle_frame as they are.
    let rpc_like = b"\x01\x01\x00\x00\x00test\x00";
    acked(
        caller
            .client()
            .publish("news/today", rpc_like, QoS::Processed),
    )
    .await;
    acked(
        caller
            .client()
            .send_broadcast("svc", b"\x11\x01\x00\x00\x00", QoS::Processed),
    )
    .await;

    for n in 0..N {
        match next_seen(&mut seen).await {
            Seen::Notification { data, .. } => assert_eq!(data, n.to_string().as_bytes()),
            other => panic!("expected notification {n}, got {other:?}"),
        }
    }
    match next_seen(&mut seen).await {
        Seen::Frame(frame) => {
            assert_eq!(frame.kind(), FrameKind::Publish);
            assert_eq!(
                (frame.sender(), frame.topic()),
                ("caller", Some("news/today"))
            );
            assert_eq!(frame.payload(), rpc_like);
        }
        other => panic!("{other:?}"),
    }
    match next_seen(&mut seen).await {
        Seen::Frame(frame) => {
            assert_eq!(frame.kind(), FrameKind::Broadcast);
            assert_eq!(frame.payload(), b"\x11\x01\x00\x00\x00");
        }
        other => panic!("{other:?}"),
    }
    // Neither was taken for RPC: no orphaned reply, no call.
    assert_eq!(server.stats(), rpc::RpcStats::default());
    assert!(seen.try_recv().is_err());
}

async fn invalid_payloads_are_counted<C: Connect>(bus: &Bus, via: Via) {
    let (server, caller) = connect_pair::<C>(bus, via).await;
    let (svc, mut seen, _) = Svc::new();
    let server = RpcClient::new(server, svc).unwrap();
    let caller = RpcClient::new(caller, DummyHandlers).unwrap();
    let invalid: [&[u8]; 6] = [
        b"",
        b"\x02abc",
        b"\x01\x01\x00\x00\x00",
        b"\x01\x01\x00\x00\x00no-nul",
        b"\x11\x01\x00",
        b"\x12\x01\x00\x00\x00\xa7",
    ];
    for payload in invalid {
        acked(caller.client().send("svc", payload, QoS::Processed)).await;
    }
    // Well-formed replies nobody waits for.
    acked(
        caller
            .client()
            .send("svc", b"\x11\x07\x00\x00\x00late", QoS::Processed),
    )
    .await;
    acked(
        caller
            .client()
            .send("svc", b"\x12\x08\x00\x00\x00\xa7\x80", QoS::Processed),
    )
    .await;
    // The server handles messages in order, so once this call is answered the ones before it
    // were counted.
    let reply = caller
        .call("svc", "echo", b"still alive", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), b"still alive");
    assert_eq!(
        server.stats(),
        rpc::RpcStats {
            invalid_payloads: 6,
            orphaned_replies: 2
        }
    );
    assert_eq!(started(&mut seen, "echo").await, reply.id());
}

/// Starts a call of `hang` from `caller` and waits until the service runs it.
async fn hanging_call<K: AsyncClient + 'static>(
    caller: &RpcClient<K>,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
) -> tokio::task::JoinHandle<Result<RpcEvent, RpcError>> {
    let in_flight = caller.clone();
    let call = tokio::spawn(async move {
        in_flight
            .call_with_timeout("svc", "hang", b"", QoS::Processed, FOREVER)
            .await
    });
    started(seen, "hang").await;
    assert_eq!(caller.pending_calls(), 1);
    call
}

/// After the connection is gone, the call in flight fails at once with -32255 and so does every
/// later one.
async fn assert_closed<K: AsyncClient + 'static>(
    caller: &RpcClient<K>,
    call: tokio::task::JoinHandle<Result<RpcEvent, RpcError>>,
) {
    let err = within("the pending call to fail", call)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), -32255, "{err}");
    assert_eq!(caller.pending_calls(), 0);
    assert!(!caller.is_connected());
    let err = within(
        "a call after the drop",
        caller.call("svc", "echo", b"", QoS::Processed),
    )
    .await;
    assert_eq!(err.unwrap_err().code(), -32255);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_in_process_client_fails_pending_calls() {
    let bus = Bus::start().await;
    let (svc, mut seen, _) = Svc::new();
    let _server = RpcClient::new(bus.local("svc"), svc).unwrap();
    let caller = RpcClient::new(bus.local("caller"), DummyHandlers).unwrap();
    let call = hanging_call(&caller, &mut seen).await;
    caller.client().unregister();
    assert_closed(&caller, call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_socket_client_fails_pending_calls() {
    let bus = Bus::start().await;
    let (svc, mut seen, _) = Svc::new();
    let _server = RpcClient::new(bus.unix("svc").await, svc).unwrap();
    let caller = RpcClient::new(bus.tcp("caller").await, DummyHandlers).unwrap();
    let call = hanging_call(&caller, &mut seen).await;
    bus.broker.force_disconnect("caller").unwrap();
    assert_closed(&caller, call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_and_socket_peers_and_secondaries() {
    let bus = Bus::start().await;
    let (svc, _seen, _) = Svc::new();
    let local = bus.local("svc");
    let _server = RpcClient::new(local.register_secondary().unwrap(), svc).unwrap();
    let primary = bus.unix("caller").await;
    let caller =
        RpcClient::new(primary.register_secondary().await.unwrap(), DummyHandlers).unwrap();
    let reply = caller
        .call("svc%%0", "whoami", b"", QoS::Processed)
        .await
        .unwrap();
    let (sender, primary_name): (String, String) = rpc::from_msgpack(reply.payload()).unwrap();
    assert_eq!(
        (sender.as_str(), primary_name.as_str()),
        ("caller%%0", "caller")
    );
    assert_eq!((reply.sender(), reply.primary_sender()), ("svc%%0", "svc"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_an_internal_error() {
    let bus = Bus::start().await;
    let (svc, _seen, _) = Svc::new();
    let _server = RpcClient::new(bus.unix("svc").await, svc).unwrap();
    let caller = RpcClient::new(bus.local("caller"), DummyHandlers).unwrap();
    let err = within(
        "the panicking call",
        caller.call_with_timeout("svc", "panic", b"", QoS::Processed, FOREVER),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (-32603, Some("the handler panicked"))
    );
    // The service goes on.
    let reply = caller
        .call("svc", "echo", b"x", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), b"x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_channel_can_be_taken_once() {
    let bus = Bus::start().await;
    let client = bus.local("taken");
    let _events = client.take_event_channel();
    assert!(RpcClient::new(client, DummyHandlers).is_err());
}

/// The RPC client pings a socket client that would otherwise be dropped as idle, while the same
/// client left alone is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinger_keeps_idle_socket_clients_alive() {
    let idle = Duration::from_millis(600);
    let bus = Bus::start_with(ServerConfig::new().idle_timeout(Some(idle))).await;
    let path = bus.unix.to_str().unwrap().to_owned();
    // Pings every 200 ms, the first at once.
    let config = |name: &str| ipc::Config::new(&path, name).timeout(Duration::from_millis(400));

    // Control: without pings the broker drops the client, so this test can fail.
    let plain = ipc::Client::connect(&config("plain")).await.unwrap();
    let mut events = plain.take_event_channel().unwrap();
    while within("the idle client to be dropped", events.recv())
        .await
        .is_some()
    {}
    assert!(!plain.is_connected());

    let (svc, _seen, _) = Svc::new();
    let server = RpcClient::new(ipc::Client::connect(&config("svc")).await.unwrap(), svc).unwrap();
    let caller = RpcClient::new(bus.local("caller"), DummyHandlers).unwrap();
    // Three idle limits pass without a frame from the server other than its pings.
    tokio::time::sleep(idle * 3).await;
    assert!(server.is_connected());
    let reply = caller
        .call("svc", "echo", b"alive", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), b"alive");
}
