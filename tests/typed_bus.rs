//! Typed RPC over a real broker: a `#[rpc]` service served with `elbus_rpc::serve` and called
//! with a generated client over the byte RPC client, through the embedded broker with
//! in-process clients and with socket clients over UNIX and TCP.

use std::future::IntoFuture;
use std::time::Duration;

use elbus::rpc::{self, DummyHandlers, RpcClient, RpcOptions};
use elbus::QoS;
use elbus_rpc::{serve, CallError, RpcErrorCode, DESCRIBE_METHOD};
use elbus_suite::rpc::{within, Bus, Connect, Via, FOREVER};
use elbus_suite::typed::*;
use tokio::sync::mpsc;

/// The bus name the test service is registered under.
const SVC: &str = "svc.calc";
/// A timeout short enough for a test to wait out (the handler never answers, so only the
/// timeout can end the call; nothing is asserted about how long it took).
const SHORT: Duration = Duration::from_millis(50);

elbus_suite::on_every_transport!(
    results_and_typed_errors,
    errors_outside_the_service,
    notify_runs_without_reply,
    timeouts_and_dropped_calls_leave_nothing_pending,
    context_names_the_caller,
    describe_over_the_bus,
);

/// Serves the test router as [`SVC`]; keep the returned client alive while calling.
async fn serve_calc<C: Connect>(
    bus: &Bus,
    via: Via,
) -> (RpcClient<C>, mpsc::UnboundedReceiver<Seen>) {
    let (router, seen) = test_router();
    let server = serve(C::connect(bus, via, SVC).await, router).unwrap();
    (server, seen)
}

/// A byte RPC client named `name` that only calls.
async fn caller<C: Connect>(bus: &Bus, via: Via, name: &str) -> RpcClient<C> {
    RpcClient::new(C::connect(bus, via, name).await, DummyHandlers).unwrap()
}

async fn next_seen(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    within("the service to report", seen.recv())
        .await
        .expect("the service is gone")
}

/// Results, a `()` result (an empty payload on the wire), and the service's typed errors with
/// their codes and messages; two services share the bus client through one router.
async fn results_and_typed_errors<C: Connect>(bus: &Bus, via: Via) {
    let (_server, _seen) = serve_calc::<C>(bus, via).await;
    let rpc = caller::<C>(bus, via, "caller").await;
    let calc = CalcClient::new(rpc.clone(), SVC);

    assert_eq!(calc.add(40, 2).await, Ok(42));
    assert_eq!(calc.sum(vec![1, 2, 3], 2).await, Ok(12));
    assert_eq!(calc.greet("ann".into(), None).await.unwrap(), "hello, ann");
    assert_eq!(
        calc.greet("bob".into(), Some("hi".into())).await.unwrap(),
        "hi, bob"
    );
    assert_eq!(calc.clear().await, Ok(()));
    // `()` is an empty reply payload on the wire, which is what Python peers expect.
    let reply = rpc
        .call(SVC, "calc.clear", &[], QoS::Processed)
        .await
        .unwrap();
    assert!(reply.payload().is_empty(), "{:?}", reply.payload());

    // Typed errors: code and UTF-8 message on the wire, the variant back on the client.
    assert_eq!(
        calc.add(i64::MAX, 1).await,
        Err(CallError::App(CalcError::Overflow))
    );
    assert_eq!(
        calc.fail("bad digit: ½".into()).await,
        Err(CallError::App(CalcError::BadInput("bad digit: ½".into())))
    );
    let err = rpc
        .call(
            SVC,
            "calc.fail",
            &rpc::to_msgpack(&("bad digit: ½",)).unwrap(),
            QoS::Processed,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (
            CalcError::BadInput(String::new()).code(),
            Some("bad digit: ½")
        )
    );

    // The second service on the same bus client and router.
    let echo = EchoClient::new(rpc.clone(), SVC);
    assert_eq!(echo.echo("ping".into()).await.unwrap(), "ping");
    assert_eq!(rpc.pending_calls(), 0);
    assert_eq!(rpc.stats(), rpc::RpcStats::default());
}

/// Failures that are not the service's own errors: an unknown method, params the server can't
/// decode, and a target nobody serves (a transport error at once, not a timeout).
async fn errors_outside_the_service<C: Connect>(bus: &Bus, via: Via) {
    let (_server, _seen) = serve_calc::<C>(bus, via).await;
    let rpc = caller::<C>(bus, via, "caller").await;

    let skew = CalcSkewClient::new(rpc.clone(), SVC);
    assert_eq!(skew.nope().await, Err(CallError::MethodNotFound));
    match skew.add("1".into(), "2".into()).await {
        Err(CallError::InvalidParams(message)) => {
            assert!(message.contains("calc.add"), "{message}")
        }
        other => panic!("expected InvalidParams, got {other:?}"),
    }

    // No such target: the broker refuses the request (the ACK of QoS Processed, or the
    // in-process client's immediate refusal), long before the hour-long timeout.
    let nobody = CalcClient::new(rpc.clone(), "svc.nobody");
    let err = within(
        "the missing-target error",
        nobody.add(1, 2).timeout(FOREVER).send(),
    )
    .await
    .unwrap_err();
    match err {
        CallError::Transport(t) => assert_eq!(t.code(), Some(-32113), "{t}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    let err = within(
        "the missing-target error of a notification",
        nobody.reset("none".into()).timeout(FOREVER).send(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, CallError::Transport(t) if t.code() == Some(-32113)),
        "{err:?}"
    );
    assert_eq!(rpc.pending_calls(), 0);
}

/// A `notify` method is sent with call id 0; the handler runs and no reply comes back.
async fn notify_runs_without_reply<C: Connect>(bus: &Bus, via: Via) {
    let (_server, mut seen) = serve_calc::<C>(bus, via).await;
    let rpc = caller::<C>(bus, via, "caller").await;
    let calc = CalcClient::new(rpc.clone(), SVC);

    assert_eq!(calc.reset("manual".into()).await, Ok(()));
    assert_eq!(
        next_seen(&mut seen).await,
        Seen::Reset {
            sender: "caller".into(),
            call_id: 0,
            reason: "manual".into()
        }
    );
    // A reply to call id 0 would reach the caller as an orphan; a round trip through the same
    // server after the handler ran gives it the time to arrive if it were ever sent.
    assert_eq!(calc.add(1, 1).await, Ok(2));
    assert_eq!(rpc.stats(), rpc::RpcStats::default());
    assert_eq!(rpc.pending_calls(), 0);
}

/// Per-call, per-client and transport timeouts end calls to a handler that never answers, and
/// neither they nor a dropped call leave a pending entry in the byte client.
async fn timeouts_and_dropped_calls_leave_nothing_pending<C: Connect>(bus: &Bus, via: Via) {
    let (_server, mut seen) = serve_calc::<C>(bus, via).await;
    let rpc = caller::<C>(bus, via, "caller").await;
    let calc = CalcClient::new(rpc.clone(), SVC);

    // Per call. (Whether the request reached the handler before the timeout fired is up to the
    // scheduler, so the handler's reports are not awaited until the dropped call below.)
    assert_eq!(calc.hang().timeout(SHORT).await, Err(CallError::Timeout));
    assert_eq!(rpc.pending_calls(), 0);

    // Per client.
    let impatient = calc.clone().with_timeout(SHORT);
    assert_eq!(impatient.hang().await, Err(CallError::Timeout));
    assert_eq!(rpc.pending_calls(), 0);

    // The byte client's own timeout applies when nothing else sets one.
    let short_rpc = RpcClient::create(
        C::connect(bus, via, "caller.short").await,
        DummyHandlers,
        RpcOptions::new().timeout(SHORT),
    )
    .unwrap();
    let calc_short = CalcClient::new(short_rpc.clone(), SVC);
    assert_eq!(calc_short.hang().effective_timeout(), SHORT);
    assert_eq!(calc_short.hang().await, Err(CallError::Timeout));
    assert_eq!(short_rpc.pending_calls(), 0);

    // A call dropped while it waits for its reply: polled first, so it is registered and sent
    // before the handler's report is awaited.
    {
        let call = calc.hang().timeout(FOREVER).into_future();
        tokio::pin!(call);
        tokio::select! {
            biased;
            reply = &mut call => panic!("the hanging call returned: {reply:?}"),
            seen = next_seen(&mut seen) => assert_eq!(seen, Seen::Hang),
        }
        assert_eq!(rpc.pending_calls(), 1);
    }
    assert_eq!(rpc.pending_calls(), 0);

    // The client still works.
    assert_eq!(calc.add(2, 2).await, Ok(4));
    assert_eq!(rpc.pending_calls(), 0);
}

/// `RpcContext` names the caller, and the primary name of a `%%` secondary.
async fn context_names_the_caller<C: Connect>(bus: &Bus, via: Via) {
    let (_server, _seen) = serve_calc::<C>(bus, via).await;
    let primary = caller::<C>(bus, via, "app").await;
    let secondary = caller::<C>(bus, via, "app%%worker1").await;

    let calc = CalcClient::new(primary.clone(), SVC);
    assert_eq!(
        calc.whoami().await.unwrap(),
        ("app".to_owned(), "app".to_owned())
    );
    let calc = CalcClient::new(secondary.clone(), SVC);
    assert_eq!(
        calc.whoami().await.unwrap(),
        ("app%%worker1".to_owned(), "app".to_owned())
    );
}

/// `rpc.describe` over the bus answers exactly what the router serving it describes locally.
async fn describe_over_the_bus<C: Connect>(bus: &Bus, via: Via) {
    let (_server, _seen) = serve_calc::<C>(bus, via).await;
    let rpc = caller::<C>(bus, via, "caller").await;
    let reply = rpc
        .call(SVC, DESCRIBE_METHOD, &[], QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), test_router().0.describe().unwrap());
}
