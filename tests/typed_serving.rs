//! The typed runtime over a real broker: a served router stops when its client is dropped and
//! callers fail fast; `closed()` ends with the connection; the caller's deadline and its leaving
//! stop the handler future (as in `Loopback`); `max_in_flight` refuses calls beyond the limit;
//! a call's QoS reaches the wire; the blocking client works without an async runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use elbus::broker_api::BrokerApi;
use elbus::rpc::{DummyHandlers, RpcClient, RpcEvent, RpcHandlers, RpcOptions, RpcResult};
use elbus::{AsyncClient, QoS};
use elbus_rpc::blocking::BlockingRuntime;
use elbus_rpc::RpcErrorCode;
use elbus_rpc::{
    serve, BoxFuture, CallError, Loopback, Next, RouterHandlers, RpcContext, RpcMiddleware,
    ServerError, CODE_BUSY,
};
use elbus_suite::rpc::{within, Bus, Connect, Via, FOREVER};
use elbus_suite::typed::{test_router, CalcClient};
use elbus_suite::typed_runtime::*;
use tokio::sync::mpsc;

/// The bus name the services are registered under.
const SVC: &str = "svc.slow";
/// The timeout of calls that are meant to time out: long enough for the request to reach the
/// handler on a loaded machine, short enough to wait out.
const SHORT: Duration = Duration::from_millis(500);

elbus_suite::on_every_transport!(
    closed_ends_with_the_connection,
    the_deadline_travels_and_stops_the_handler,
    a_caller_leaving_stops_its_handlers,
    max_in_flight_refuses_the_calls_beyond_it,
    the_calls_qos_reaches_the_wire,
);

async fn next_event(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    within("the handler to report", events.recv())
        .await
        .expect("the service is gone")
}

/// How a test makes a client leave the bus: an in-process client unregisters (announced), a
/// socket client is disconnected by the broker.
trait Leave: Connect {
    fn leave(bus: &Bus, rpc: &RpcClient<Self>);
}

impl Leave for elbus::broker::Client {
    fn leave(_bus: &Bus, rpc: &RpcClient<Self>) {
        rpc.client().unregister();
    }
}

impl Leave for elbus::ipc::Client {
    fn leave(bus: &Bus, rpc: &RpcClient<Self>) {
        bus.broker.force_disconnect(rpc.client().name()).unwrap();
    }
}

/// Starts the broker's own client, `.broker`: without it an embedded broker announces no
/// unregistrations (elbusd always runs it).
fn announcing(bus: &Bus) -> BrokerApi {
    BrokerApi::start(&bus.broker).unwrap()
}

/// A caller that fails its calls as soon as the broker announces their target gone.
async fn caller<C: Connect>(bus: &Bus, via: Via, name: &str) -> RpcClient<C> {
    let client = C::connect(bus, via, name).await;
    RpcClient::create(
        client,
        DummyHandlers,
        RpcOptions::new().fail_calls_on_unregister(),
    )
    .unwrap()
}

/// The scenario below, by hand rather than `on_every_transport!`: its in-process case waits
/// for the broker-side fix.
mod dropping_the_server_fails_callers_fast {
    use elbus_suite::rpc::{Bus, Via};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unix() {
        let bus = Bus::start().await;
        super::dropping_the_server_fails_callers_fast::<elbus::ipc::Client>(&bus, Via::Unix).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tcp() {
        let bus = Bus::start().await;
        super::dropping_the_server_fails_callers_fast::<elbus::ipc::Client>(&bus, Via::Tcp).await;
    }

    /// A dropped in-process server's event channel goes with its dispatch task, perhaps before
    /// the client is unregistered: the broker refuses calls to it at once all the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_process() {
        let bus = Bus::start().await;
        super::dropping_the_server_fails_callers_fast::<elbus::broker::Client>(
            &bus,
            Via::InProcess,
        )
        .await;
    }
}

/// Dropping what `serve` returned stops the service. A call racing the teardown is answered or
/// failed with −32113 (by the broker, or by the `unreg` announcement), never left to its
/// timeout; once the server's `unreg` is announced, every call fails at once with −32113.
async fn dropping_the_server_fails_callers_fast<C: Connect>(bus: &Bus, via: Via) {
    let _api = announcing(bus);
    let watcher = bus.local("watcher");
    let mut announcements = watcher.take_event_channel().unwrap();
    watcher
        .subscribe(elbus::protocol::INFO_TOPIC, QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    let server = serve(C::connect(bus, via, "svc.calc").await, test_router().0).unwrap();
    let rpc = caller::<C>(bus, via, "caller").await;
    let calc = CalcClient::new(rpc.clone(), "svc.calc");
    assert_eq!(calc.add(1, 2).await, Ok(3));
    let expect_gone = |outcome: Result<i64, CallError<_>>| match outcome {
        Err(CallError::Transport(t)) => assert_eq!(t.code(), Some(-32113), "{t}"),
        other => panic!("expected -32113, got {other:?}"),
    };

    drop(server);
    let racing = within("a call racing the server's teardown", async {
        calc.add(1, 2).timeout(FOREVER).await
    })
    .await;
    if racing != Ok(3) {
        expect_gone(racing);
    }
    within("the server's unreg announcement", async {
        while let Some(frame) = announcements.recv().await {
            if elbus::rpc::unregistered_client(&frame) == Some("svc.calc") {
                return;
            }
        }
        panic!("the watcher's channel closed");
    })
    .await;
    expect_gone(
        within("the call to a dropped server to fail", async {
            calc.add(1, 2).timeout(FOREVER).await
        })
        .await,
    );
}

/// `closed()` resolves when the server's connection ends, with the reason.
async fn closed_ends_with_the_connection<C: Leave>(bus: &Bus, via: Via) {
    let server = serve(C::connect(bus, via, SVC).await, slow_router(None).0).unwrap();
    let closed = tokio::spawn({
        let server = server.clone();
        async move { server.closed().await }
    });
    C::leave(bus, &server);
    let reason = within("closed() to resolve", closed).await.unwrap();
    assert_eq!(reason.kind(), elbus::ErrorKind::Eof, "{reason}");
    assert!(!server.is_connected());
}

/// With `send_deadline`, the server's context has the caller's deadline (the key is taken out
/// before a `deny_unknown_params` service decodes), and a handler still running at the deadline
/// is dropped. Without it there is no deadline.
async fn the_deadline_travels_and_stops_the_handler<C: Connect>(bus: &Bus, via: Via) {
    let (router, mut parts) = slow_router(None);
    let _server = serve(C::connect(bus, via, SVC).await, router).unwrap();
    let slow = SlowClient::new(caller::<C>(bus, via, "caller").await, SVC);

    assert_eq!(slow.time_left().timeout(FOREVER).await, Ok(None));
    let left = slow.time_left().timeout(FOREVER).send_deadline().await;
    let left = left.unwrap().expect("the deadline reached the handler");
    assert!(left > 0 && left <= FOREVER.as_millis() as u64, "{left}");

    let reply = slow
        .stall("late".into())
        .timeout(SHORT)
        .send_deadline()
        .await;
    assert_eq!(reply, Err(CallError::Timeout));
    assert_eq!(
        next_event(&mut parts.events).await,
        Event::Started("late".into())
    );
    assert_eq!(
        next_event(&mut parts.events).await,
        Event::Dropped("late".into())
    );
}

/// A caller that leaves the bus stops its running calls (the server hears of it from the
/// broker's `unreg` announcement).
async fn a_caller_leaving_stops_its_handlers<C: Leave>(bus: &Bus, via: Via) {
    let _api = announcing(bus);
    let (router, mut parts) = slow_router(None);
    let _server = serve(C::connect(bus, via, SVC).await, router).unwrap();
    let rpc = caller::<C>(bus, via, "leaver").await;
    let slow = SlowClient::new(rpc.clone(), SVC);
    let call = tokio::spawn(async move { slow.stall("left".into()).timeout(FOREVER).await });

    assert_eq!(
        next_event(&mut parts.events).await,
        Event::Started("left".into())
    );
    C::leave(bus, &rpc);
    assert_eq!(
        next_event(&mut parts.events).await,
        Event::Dropped("left".into())
    );
    call.abort();
}

/// 50 calls at once against a limit of 4: 4 run (never more at once), 46 are refused with
/// −32118 at once, and once the 4 finish the server takes calls again.
async fn max_in_flight_refuses_the_calls_beyond_it<C: Connect>(bus: &Bus, via: Via) {
    const CALLS: usize = 50;
    const LIMIT: usize = 4;
    let (router, parts) = slow_router(Some(LIMIT));
    let _server = serve(C::connect(bus, via, SVC).await, router).unwrap();
    let slow = SlowClient::new(caller::<C>(bus, via, "caller").await, SVC);

    let (done, mut results) = mpsc::unbounded_channel();
    for _ in 0..CALLS {
        let (slow, done) = (slow.clone(), done.clone());
        tokio::spawn(async move { done.send(slow.hold().timeout(FOREVER).await) });
    }
    // The admitted calls wait at the closed gate, so every other call must be refused.
    let mut refused = 0;
    while refused < CALLS - LIMIT {
        match within("a refusal", results.recv()).await.unwrap() {
            Err(CallError::Transport(t)) if t.code() == Some(CODE_BUSY) => refused += 1,
            other => panic!("expected busy (-32118), got {other:?}"),
        }
    }
    parts.gate.add_permits(CALLS);
    for _ in 0..LIMIT {
        assert_eq!(within("a held call", results.recv()).await.unwrap(), Ok(()));
    }
    assert_eq!(parts.service.most_inside(), LIMIT);
    assert_eq!(slow.hold().await, Ok(()));
}

/// Serves a router and reports, for every request, whether it arrived as a realtime frame.
struct RealtimeObserver {
    inner: RouterHandlers,
    seen: mpsc::UnboundedSender<bool>,
}

impl RpcHandlers for RealtimeObserver {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        let _ = self.seen.send(event.frame().is_realtime());
        self.inner.handle_call(event).await
    }
}

/// `RpcCall::qos` sends the request with the chosen QoS: a realtime call arrives as a realtime
/// frame, the default does not, and a call without ACK (`QoS::No`) still gets its result. A
/// client's `with_qos` applies to each of its calls, and a call's own `qos` wins over it.
async fn the_calls_qos_reaches_the_wire<C: Connect>(bus: &Bus, via: Via) {
    let (seen, mut realtime) = mpsc::unbounded_channel();
    let handlers = RealtimeObserver {
        inner: RouterHandlers::new(test_router().0),
        seen,
    };
    let _server = RpcClient::new(C::connect(bus, via, "svc.calc").await, handlers).unwrap();
    let calc = CalcClient::new(caller::<C>(bus, via, "caller").await, "svc.calc");

    assert_eq!(calc.add(1, 2).await, Ok(3));
    assert_eq!(within("a request", realtime.recv()).await, Some(false));
    assert_eq!(calc.add(2, 3).qos(QoS::RealtimeProcessed).await, Ok(5));
    assert_eq!(within("a request", realtime.recv()).await, Some(true));
    assert_eq!(calc.add(3, 4).qos(QoS::No).await, Ok(7));
    assert_eq!(within("a request", realtime.recv()).await, Some(false));

    let realtime_calc = calc.clone().with_qos(QoS::Realtime);
    assert_eq!(realtime_calc.add(4, 5).await, Ok(9));
    assert_eq!(within("a request", realtime.recv()).await, Some(true));
    assert_eq!(realtime_calc.add(5, 6).qos(QoS::Processed).await, Ok(11));
    assert_eq!(within("a request", realtime.recv()).await, Some(false));
}

/// A middleware that logs, into a shared list, `NAME>` before and `<NAME method code` after
/// the rest of the chain.
struct Logged {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl RpcMiddleware for Logged {
    fn call<'a>(
        &'a self,
        ctx: &'a RpcContext,
        params: &'a [u8],
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(format!("{}>", self.name));
            let result = next.run(ctx, params).await;
            let code = result.as_ref().err().map_or(0, ServerError::code);
            let line = format!("<{} {} {code}", self.name, ctx.method());
            self.log.lock().unwrap().push(line);
            result
        })
    }
}

/// Middleware wraps every call in the order the layers were added, sees the method and the
/// result code, and a layer can answer without calling the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middleware_wraps_calls_in_order() {
    /// Refuses `calc.clear` with a code of its own, as an access check would.
    struct Deny;
    impl RpcMiddleware for Deny {
        fn call<'a>(
            &'a self,
            ctx: &'a RpcContext,
            params: &'a [u8],
            next: Next<'a>,
        ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>> {
            match ctx.method() {
                "calc.clear" => Box::pin(async { Err(ServerError::new(-7, "denied")) }),
                _ => next.run(ctx, params),
            }
        }
    }

    let bus = Bus::start().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let router = test_router()
        .0
        .layer(Logged {
            name: "outer",
            log: log.clone(),
        })
        .layer(Logged {
            name: "inner",
            log: log.clone(),
        })
        .layer(Deny);
    let _server = serve(bus.unix("svc.calc").await, router).unwrap();
    let rpc = RpcClient::new(bus.unix("caller").await, DummyHandlers).unwrap();
    let calc = CalcClient::new(rpc, "svc.calc");

    assert_eq!(calc.add(1, 2).await, Ok(3));
    assert_eq!(
        calc.add(i64::MAX, 1)
            .await
            .unwrap_err()
            .app()
            .map(|e| e.code()),
        Some(1001)
    );
    assert!(matches!(
        calc.clear().await,
        Err(CallError::Remote { code: -7, ref message }) if message == "denied"
    ));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "outer>",
            "inner>",
            "<inner calc.add 0",
            "<outer calc.add 0",
            "outer>",
            "inner>",
            "<inner calc.add 1001",
            "<outer calc.add 1001",
            "outer>",
            "inner>",
            "<inner calc.clear -7",
            "<outer calc.clear -7",
        ]
    );
}

/// `Loopback` behaves as the bus does: the handler is dropped at the call's timeout, and when
/// the caller drops the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_stops_the_handler_like_the_bus() {
    let (router, mut parts) = slow_router(None);
    let slow = SlowClient::new(Loopback::new(router), SVC);

    let left = slow.time_left().timeout(FOREVER).await.unwrap();
    assert!(left.is_some_and(|left| left <= FOREVER.as_millis() as u64));

    assert_eq!(
        slow.stall("late".into()).timeout(SHORT).await,
        Err(CallError::Timeout)
    );
    assert_eq!(
        next_event(&mut parts.events).await,
        Event::Started("late".into())
    );
    assert_eq!(
        next_event(&mut parts.events).await,
        Event::Dropped("late".into())
    );

    let call = tokio::spawn({
        let slow = slow.clone();
        async move { slow.stall("left".into()).timeout(FOREVER).await }
    });
    assert_eq!(
        next_event(&mut parts.events).await,
        Event::Started("left".into())
    );
    call.abort();
    assert_eq!(
        next_event(&mut parts.events).await,
        Event::Dropped("left".into())
    );
}

/// The blocking client, from a plain `#[test]`: the broker and the server run on a runtime of
/// their own, the caller has none but [`BlockingRuntime`].
#[test]
fn the_blocking_client_calls_without_an_async_runtime() {
    let broker_runtime = tokio::runtime::Runtime::new().unwrap();
    let bus = broker_runtime.block_on(Bus::start());
    let _server = broker_runtime
        .block_on(async { serve(bus.unix("svc.calc").await, test_router().0).unwrap() });

    let runtime = BlockingRuntime::new().unwrap();
    let config = elbus::ipc::Config::new(bus.unix.to_str().unwrap(), "blocking.caller");
    let calc = CalcClient::new(runtime.connect(&config).unwrap(), "svc.calc");
    assert_eq!(runtime.block_on(calc.add(40, 2)), Ok(42));
    assert_eq!(
        runtime.block_on(calc.greet("ann".into(), None)).unwrap(),
        "hello, ann"
    );
    let nobody = CalcClient::new(calc.transport().clone(), "svc.nobody");
    assert!(matches!(
        runtime.block_on(nobody.add(1, 2).timeout(FOREVER)),
        Err(CallError::Transport(t)) if t.code() == Some(-32113)
    ));
    drop(_server);
    broker_runtime.block_on(async { drop(bus) });
}
