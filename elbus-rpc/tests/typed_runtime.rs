//! Runtime tests of typed RPC over the in-process loopback transport: golden wire bytes, params
//! decoding (map, array, nil, missing optionals, unknown keys, aliases), error round trips,
//! timeouts, notifications, the context and the `rpc.describe` snapshot.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use elbus_rpc::{
    rpc, CallError, Loopback, RpcContext, RpcError, RpcRouter, RpcService, ServerError,
    DEFAULT_TIMEOUT,
};

/// Calculator errors.
#[derive(Debug, PartialEq, RpcError)]
pub enum CalcError {
    /// The result does not fit in an i64.
    #[rpc(code = 1001)]
    Overflow,
    /// The input was rejected.
    #[rpc(code = 1002)]
    BadInput(String),
    #[rpc(code = -7, message = "negative")]
    Negative,
}

/// A calculator.
#[rpc(
    namespace = "calc",
    version = "1.2",
    timeout = "5s",
    meta(owner = "tests")
)]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    /// Sums a list, scaled.
    #[rpc(name = "sum_all", aliases = ["sum"], timeout = "30s")]
    async fn sum(&self, xs: Vec<i64>, #[rpc(default)] scale: i64) -> Result<i64, CalcError>;
    /// Resets the calculator.
    #[rpc(notify)]
    async fn reset(&self, ctx: &RpcContext);
    /// Greets a caller.
    async fn greet(
        &self,
        // The alias repeats the Rust name the rename keeps anyway: listed once.
        #[rpc(rename = "who", alias = "name")] name: String,
        greeting: Option<String>,
        ctx: &RpcContext,
    ) -> Result<String, CalcError>;
    /// Sleeps for `ms` milliseconds.
    async fn sleep(&self, ms: u64) -> Result<(), CalcError>;
    /// Fails with `BadInput(msg)`.
    async fn fail(&self, msg: String) -> Result<(), CalcError>;
    /// The version string.
    async fn version(&self) -> Result<String, CalcError>;
}

#[derive(Default)]
struct CalcImpl {
    resets: AtomicU32,
    last_reset: Mutex<Option<RpcContext>>,
}

impl Calc for CalcImpl {
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError> {
        a.checked_add(b).ok_or(CalcError::Overflow)
    }
    async fn sum(&self, xs: Vec<i64>, scale: i64) -> Result<i64, CalcError> {
        Ok(xs.iter().sum::<i64>() * scale)
    }
    async fn reset(&self, ctx: &RpcContext) {
        *self.last_reset.lock().unwrap() = Some(ctx.clone());
        self.resets.fetch_add(1, Ordering::SeqCst);
    }
    async fn greet(
        &self,
        name: String,
        greeting: Option<String>,
        ctx: &RpcContext,
    ) -> Result<String, CalcError> {
        Ok(format!(
            "{} {name} (from {} / {})",
            greeting.as_deref().unwrap_or("hello"),
            ctx.sender(),
            ctx.primary_sender()
        ))
    }
    async fn sleep(&self, ms: u64) -> Result<(), CalcError> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(())
    }
    async fn fail(&self, msg: String) -> Result<(), CalcError> {
        Err(CalcError::BadInput(msg))
    }
    async fn version(&self) -> Result<String, CalcError> {
        Ok("1.2".to_owned())
    }
}

/// A second service, to share one router.
#[rpc(namespace = "echo")]
pub trait Echo {
    /// Echoes `text`.
    async fn echo(&self, text: String) -> Result<String, std::convert::Infallible>;
}

struct EchoImpl;
impl Echo for EchoImpl {
    async fn echo(&self, text: String) -> Result<String, std::convert::Infallible> {
        Ok(text)
    }
}

/// Methods the server doesn't have or declares differently (client-only).
#[rpc(namespace = "calc", client = true, server = false)]
pub trait CalcSkew {
    /// Not served.
    async fn nope(&self) -> Result<(), CalcError>;
    /// `calc.add` with the wrong param types.
    async fn add(&self, a: String, b: String) -> Result<i64, CalcError>;
}

/// The router every test serves: `Calc` and `Echo`.
fn test_router() -> (Arc<CalcImpl>, RpcRouter) {
    let service = Arc::new(CalcImpl::default());
    let router = RpcRouter::new()
        .service(CalcHandler::from_arc(service.clone()))
        .service(EchoImpl.into_handler());
    (service, router)
}

fn setup() -> (Arc<CalcImpl>, Loopback, CalcClient<Loopback>) {
    let (service, router) = test_router();
    let loopback = Loopback::with_sender(router, "tester%%worker1");
    let client = CalcClient::new(loopback.clone(), "svc.calc");
    (service, loopback, client)
}

async fn raw(loopback: &Loopback, method: &str, params: &[u8]) -> Result<Vec<u8>, ServerError> {
    loopback
        .router()
        .handle("raw", method.as_bytes(), 7, params)
        .await
}

fn mp<T: serde::Serialize>(v: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(v).unwrap()
}

fn un<T: serde::de::DeserializeOwned>(v: &[u8]) -> T {
    rmp_serde::from_slice(v).unwrap()
}

#[tokio::test]
async fn golden_params_bytes() {
    let (_, _, client) = setup();
    // {"a": 1, "b": 2}: fixmap of 2, fixstr "a", 1, fixstr "b", 2; keys in declaration order.
    let expected = [0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0x02];
    assert_eq!(client.add(1, 2).params().unwrap(), &expected);
    #[derive(serde::Serialize)]
    struct Ab {
        a: i64,
        b: i64,
    }
    assert_eq!(mp(&Ab { a: 1, b: 2 }), expected);
    // Renamed param on the wire, `None` sent as nil.
    let call = client.greet("bob".into(), None);
    assert_eq!(
        call.params().unwrap(),
        &[
            0x82, 0xa3, b'w', b'h', b'o', 0xa3, b'b', b'o', b'b', 0xa8, b'g', b'r', b'e', b'e',
            b't', b'i', b'n', b'g', 0xc0
        ]
    );
    // No params: an empty map.
    assert_eq!(client.version().params().unwrap(), &[0x80]);
    assert_eq!(client.add(1, 2).method(), "calc.add");
    assert_eq!(client.sum(vec![], 1).method(), "calc.sum_all");
}

#[tokio::test]
async fn typed_calls_round_trip() {
    let (_, _, client) = setup();
    assert_eq!(client.add(1, 2).await, Ok(3));
    assert_eq!(client.sum(vec![1, 2, 3], 2).await, Ok(12));
    assert_eq!(
        client.greet("bob".into(), Some("hi".into())).await.unwrap(),
        "hi bob (from tester%%worker1 / tester)"
    );
    assert_eq!(client.sleep(0).await, Ok(()));
    assert_eq!(client.version().await.unwrap(), "1.2");
    // Clients are cheap clones sharing the transport.
    let other = client.clone().with_timeout(Duration::from_secs(1));
    assert_eq!(other.add(2, 2).send().await, Ok(4));
    assert_eq!(other.target(), "svc.calc");
}

#[tokio::test]
async fn params_as_map_array_nil_and_aliases() {
    let (_, lb, _) = setup();
    let map = std::collections::BTreeMap::from([("a", 40), ("b", 2)]);
    assert_eq!(
        un::<i64>(&raw(&lb, "calc.add", &mp(&map)).await.unwrap()),
        42
    );
    // Positional array.
    assert_eq!(
        un::<i64>(&raw(&lb, "calc.add", &mp(&(40, 2))).await.unwrap()),
        42
    );
    // Unknown keys are ignored.
    let extra = std::collections::BTreeMap::from([("a", 1), ("b", 2), ("zzz", 3)]);
    assert_eq!(
        un::<i64>(&raw(&lb, "calc.add", &mp(&extra)).await.unwrap()),
        3
    );
    // The method alias and a missing `#[rpc(default)]` param (scale = 0).
    let xs = std::collections::BTreeMap::from([("xs", vec![1, 2])]);
    assert_eq!(un::<i64>(&raw(&lb, "calc.sum", &mp(&xs)).await.unwrap()), 0);
    assert_eq!(
        un::<i64>(
            &raw(&lb, "calc.sum_all", &mp(&(vec![1, 2], 3)))
                .await
                .unwrap()
        ),
        9
    );
    // A missing optional param (map and array), and the renamed param's old name as alias.
    let who = std::collections::BTreeMap::from([("who", "ann")]);
    let reply: String = un(&raw(&lb, "calc.greet", &mp(&who)).await.unwrap());
    assert_eq!(reply, "hello ann (from raw / raw)");
    let old = std::collections::BTreeMap::from([("name", "ann"), ("greeting", "yo")]);
    let reply: String = un(&raw(&lb, "calc.greet", &mp(&old)).await.unwrap());
    assert_eq!(reply, "yo ann (from raw / raw)");
    let reply: String = un(&raw(&lb, "calc.greet", &mp(&("ann",))).await.unwrap());
    assert_eq!(reply, "hello ann (from raw / raw)");
    // No params: empty payload, nil, empty map, empty array.
    for payload in [&[][..], &[0xc0], &[0x80], &[0x90]] {
        let v: String = un(&raw(&lb, "calc.version", payload).await.unwrap());
        assert_eq!(v, "1.2");
    }
    // `()` results are an empty payload.
    assert_eq!(
        raw(&lb, "calc.sleep", &mp(&(0,))).await.unwrap(),
        Vec::<u8>::new()
    );
}

#[tokio::test]
async fn bad_params_and_unknown_methods() {
    let (_, lb, client) = setup();
    // Missing required param.
    let err = raw(
        &lb,
        "calc.add",
        &mp(&std::collections::BTreeMap::from([("a", 1)])),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), -32602);
    assert!(
        String::from_utf8_lossy(err.data()).contains("missing field `b`"),
        "{err}"
    );
    // Garbage.
    assert_eq!(
        raw(&lb, "calc.add", &[0xc1]).await.unwrap_err().code(),
        -32602
    );
    assert_eq!(raw(&lb, "calc.nope", &[]).await.unwrap_err().code(), -32601);
    // A method name that is not UTF-8.
    let err = lb
        .router()
        .handle("raw", &[0xff, 0xfe], 1, &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), -32601);

    let skew = CalcSkewClient::new(lb.clone(), "svc.calc");
    assert_eq!(skew.nope().await, Err(CallError::MethodNotFound));
    match skew.add("1".into(), "2".into()).await {
        Err(CallError::InvalidParams(msg)) => assert!(msg.contains("calc.add"), "{msg}"),
        other => panic!("expected InvalidParams, got {other:?}"),
    }
    drop(client);
}

#[tokio::test]
async fn app_errors_round_trip() {
    let (_, lb, client) = setup();
    assert_eq!(
        client.add(i64::MAX, 1).await,
        Err(CallError::App(CalcError::Overflow))
    );
    assert_eq!(
        client.fail("bad number".into()).await,
        Err(CallError::App(CalcError::BadInput("bad number".into())))
    );
    // On the wire: i16 code + UTF-8 message.
    let err = raw(&lb, "calc.fail", &mp(&("bad number",)))
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.data()), (1002, &b"bad number"[..]));
    let err = raw(&lb, "calc.add", &mp(&(i64::MAX, 1))).await.unwrap_err();
    assert_eq!(
        (err.code(), err.data()),
        (1001, &b"The result does not fit in an i64."[..])
    );
    // Codes the client type doesn't know stay `Remote`.
    use elbus_rpc::{RawCallError, RpcErrorCode};
    let e: CallError<CalcError> =
        RawCallError::from_code(4242, Some(b"what".to_vec())).into_call_error();
    assert_eq!(
        e,
        CallError::Remote {
            code: 4242,
            message: "what".into()
        }
    );
    let e: CallError<CalcError> = RawCallError::from_code(-32120, None).into_call_error();
    assert_eq!(e, CallError::Timeout);
    let e: CallError<CalcError> = RawCallError::from_code(-32113, None).into_call_error();
    assert!(matches!(e, CallError::Transport(t) if t.code() == Some(-32113)));
    assert_eq!(CalcError::Negative.code(), -7);
    assert_eq!(CalcError::Negative.message(), "negative");
    assert_eq!(CalcError::from_code(-7, ""), Some(CalcError::Negative));
    assert_eq!(
        CallError::App(CalcError::BadInput("x".into())).to_string(),
        "service error 1002: x"
    );
}

#[tokio::test]
async fn timeouts_leave_nothing_pending() {
    let (_, lb, client) = setup();
    let started = std::time::Instant::now();
    let r = client.sleep(5_000).timeout(Duration::from_millis(50)).await;
    assert_eq!(r, Err(CallError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(lb.pending(), 0);
    // A dropped call leaves nothing either.
    let fut = client.sleep(5_000).send();
    let _ = tokio::time::timeout(Duration::from_millis(20), fut).await;
    assert_eq!(lb.pending(), 0);
    // A client-level timeout applies too.
    let slow = client.clone().with_timeout(Duration::from_millis(30));
    assert_eq!(slow.sleep(5_000).await, Err(CallError::Timeout));
    assert_eq!(lb.pending(), 0);
}

#[tokio::test]
async fn timeout_precedence() {
    let (_, _, client) = setup();
    // method attribute (30s) > service attribute (5s)
    assert_eq!(
        client.sum(vec![], 1).effective_timeout(),
        Duration::from_secs(30)
    );
    assert_eq!(client.add(1, 1).effective_timeout(), Duration::from_secs(5));
    // client > method
    let c = client.clone().with_timeout(Duration::from_secs(2));
    assert_eq!(c.sum(vec![], 1).effective_timeout(), Duration::from_secs(2));
    // call > client
    let d = Duration::from_millis(1500);
    assert_eq!(c.sum(vec![], 1).timeout(d).effective_timeout(), d);
    // runtime default when nothing is set
    let echo = EchoClient::new(client.transport().clone(), "svc.calc");
    assert_eq!(echo.echo("x".into()).effective_timeout(), DEFAULT_TIMEOUT);
}

#[tokio::test]
async fn notifications_run_without_reply() {
    let (service, _, client) = setup();
    assert_eq!(client.reset().await, Ok(()));
    for _ in 0..100 {
        if service.resets.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(service.resets.load(Ordering::SeqCst), 1);
    let ctx = service.last_reset.lock().unwrap().clone().unwrap();
    assert!(ctx.is_notification());
    assert_eq!(ctx.call_id(), 0);
    assert_eq!(ctx.method(), "calc.reset");
    assert_eq!(ctx.primary_sender(), "tester");
}

#[tokio::test]
async fn two_services_on_one_router() {
    let (_, lb, client) = setup();
    let echo = EchoClient::new(lb.clone(), "svc.calc");
    assert_eq!(echo.echo("hi".into()).await, Ok("hi".to_owned()));
    assert_eq!(client.add(1, 1).await, Ok(2));
    // Mounting the same wire names twice is refused.
    let err = RpcRouter::new()
        .service(EchoImpl.into_handler())
        .try_service(EchoImpl.into_handler())
        .unwrap_err();
    assert!(err.to_string().contains("echo.echo"), "{err}");
}

/// The reviewed `rpc.describe` output of [`setup`]'s router.
const DESCRIBE_SNAPSHOT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/describe.json");

/// Compares an `rpc.describe` reply with [`DESCRIBE_SNAPSHOT`] (as pretty JSON, for review).
fn assert_describe_snapshot(reply: &[u8]) {
    let value: serde_json::Value = rmp_serde::from_slice(reply).unwrap();
    let actual = serde_json::to_string_pretty(&value).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(DESCRIBE_SNAPSHOT, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(DESCRIBE_SNAPSHOT).unwrap();
    assert_eq!(
        actual, expected,
        "rpc.describe changed; rerun with UPDATE_SNAPSHOTS=1 and review"
    );
}

#[tokio::test]
async fn describe_snapshot() {
    let (_, lb, _) = setup();
    let reply = raw(&lb, "rpc.describe", &[]).await.unwrap();
    assert_describe_snapshot(&reply);
    // The static schema is the same data.
    let handler = CalcImpl::default().into_handler();
    assert_eq!(handler.schema().methods.len(), 7);
    assert_eq!(<CalcImpl as Calc>::NAME, "Calc");
    assert!(std::ptr::eq(handler.schema(), CalcImpl::schema()));
}

/// `rpc.describe` called over a real bus (the embedded broker, in-process clients) with the byte
/// RPC client answers the snapshot too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_over_the_bus_matches_the_snapshot() {
    use elbus::rpc::{DummyHandlers, RpcClient};

    let (_, router) = test_router();
    let broker = elbus::broker::Broker::new();
    let _server = elbus_rpc::serve(broker.register_client("svc.calc").unwrap(), router).unwrap();
    let caller = RpcClient::new(broker.register_client("caller").unwrap(), DummyHandlers).unwrap();
    let reply = caller
        .call("svc.calc", "rpc.describe", &[], elbus::QoS::Processed)
        .await
        .unwrap();
    assert_describe_snapshot(reply.payload());
}
