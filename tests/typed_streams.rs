//! Pull streams (`#[rpc(stream)]`) over in-process clients, UNIX, TCP and `Loopback`: items in
//! order through the typed client, the busrt cursor wire (`{"u"}`, `N`, `NB`, -32001), and the
//! server's limits; the handler's stream is dropped, and the stream table empty, after each way
//! a stream ends (finished, failed, closed, expired, caller gone), and a slow puller never makes
//! the server produce ahead of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use elbus::broker_api::BrokerApi;
use elbus::AsyncClient;
use elbus_rpc::{
    rpc, CallError, Loopback, RawCallError, RpcBus, RpcError, RpcRouter, RpcTransport, Stream,
    StreamLimits, CODE_BUSY, CODE_CURSOR_NOT_FOUND,
};
use elbus_suite::rpc::{wait_until, within, Bus, Connect, Via};
use futures_util::StreamExt;
use rmpv::Value;

#[derive(Debug, PartialEq, RpcError)]
enum FeedError {
    /// The feed broke.
    #[rpc(code = 7)]
    Broken,
}

/// A feed of numbers.
#[rpc(namespace = "feed")]
trait Feed {
    /// 0, 1, .., n - 1.
    #[rpc(stream)]
    fn count(&self, n: u32) -> impl Stream<Item = Result<u32, FeedError>> + Send;
    /// `ok` items, then `Broken`.
    #[rpc(stream)]
    fn broken(&self, ok: u32) -> impl Stream<Item = Result<u32, FeedError>> + Send;
}

/// What the feed's streams did: items produced, streams dropped.
#[derive(Default)]
struct Probe {
    produced: AtomicUsize,
    dropped: AtomicUsize,
}

/// Counts the drop of the stream that owns it.
struct DropGuard(Arc<Probe>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

struct FeedImpl(Arc<Probe>);

impl Feed for FeedImpl {
    fn count(&self, n: u32) -> impl Stream<Item = Result<u32, FeedError>> + Send + 'static {
        let guard = DropGuard(self.0.clone());
        futures_util::stream::iter(0..n).map(move |i| {
            guard.0.produced.fetch_add(1, Ordering::SeqCst);
            Ok(i)
        })
    }

    fn broken(&self, ok: u32) -> impl Stream<Item = Result<u32, FeedError>> + Send + 'static {
        let guard = DropGuard(self.0.clone());
        futures_util::stream::iter(0..=ok).map(move |i| {
            let _ = &guard;
            if i < ok {
                Ok(i)
            } else {
                Err(FeedError::Broken)
            }
        })
    }
}

const SVC: &str = "svc.feed";
/// Long enough for every pull of a test: the TTL only matters in the expiry test.
const LIMITS: StreamLimits = StreamLimits {
    ttl: Duration::from_secs(30),
    per_caller: 3,
    total: 1024,
    max_batch: 100,
};

fn feed(limits: StreamLimits) -> (RpcRouter, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let router = RpcRouter::new()
        .stream_limits(limits)
        .service(FeedImpl(probe.clone()).into_handler());
    (router, probe)
}

const T: Duration = Duration::from_secs(10);

/// Opens `feed.count {n}` with a raw call, as a Python peer does: the cursor id.
async fn open<Tr: RpcTransport>(t: &Tr, n: u32) -> Vec<u8> {
    let params = rmp_serde::to_vec_named(&serde_json::json!({ "n": n })).unwrap();
    let reply = t.call(SVC, "feed.count", params, T).await.unwrap();
    let opened: Value = rmp_serde::from_slice(&reply).unwrap();
    let u = opened["u"].as_slice().expect("a bin cursor id").to_vec();
    assert_eq!(u.len(), 16);
    u
}

async fn raw<Tr: RpcTransport>(
    t: &Tr,
    method: &str,
    u: &[u8],
    n: Option<u32>,
) -> Result<Vec<u8>, RawCallError> {
    let mut map = vec![(Value::from("u"), Value::Binary(u.to_vec()))];
    if let Some(n) = n {
        map.push((Value::from("n"), Value::from(n)));
    }
    let params = rmp_serde::to_vec(&Value::Map(map)).unwrap();
    t.call(SVC, method, params, T).await.map(|b| b.to_vec())
}

fn code(e: RawCallError) -> i16 {
    match e {
        RawCallError::Remote { code, .. } => code,
        RawCallError::Transport(t) => t.code().unwrap_or(0),
        other => panic!("unexpected {other:?}"),
    }
}

async fn server<C: Connect + Clone>(
    bus: &Bus,
    via: Via,
    limits: StreamLimits,
) -> (RpcBus<C>, Arc<Probe>) {
    let (router, probe) = feed(limits);
    (
        RpcBus::serve(C::connect(bus, via, SVC).await, router).unwrap(),
        probe,
    )
}

async fn caller<C: Connect + Clone>(bus: &Bus, via: Via, name: &str) -> RpcBus<C> {
    RpcBus::client(C::connect(bus, via, name).await).unwrap()
}

/// Waits until the server has dropped `streams` handler streams and holds none.
async fn all_dropped<C: elbus::AsyncClient + Clone + 'static>(
    server: &RpcBus<C>,
    probe: &Probe,
    streams: usize,
) {
    wait_until("the handler streams to be dropped", || {
        probe.dropped.load(Ordering::SeqCst) == streams && server.router().open_streams() == 0
    })
    .await;
}

elbus_suite::on_every_transport!(
    the_typed_client_gets_every_item_in_order,
    the_cursor_wire_is_busrts,
    an_error_ends_the_stream,
    closing_early_drops_the_handler_stream,
    a_caller_leaving_closes_its_streams,
    only_the_opener_pulls_and_caps_hold,
);

/// 250 items in batches of 16 (and of 1), in order; the stream is dropped at the end.
async fn the_typed_client_gets_every_item_in_order<C: Connect + Clone>(bus: &Bus, via: Via) {
    let (server, probe) = server::<C>(bus, via, LIMITS).await;
    let client = FeedClient::new(caller::<C>(bus, via, "caller").await, SVC);
    let items: Vec<u32> = within(
        "the stream",
        client.count(250).batch(16).map(Result::unwrap).collect(),
    )
    .await;
    assert_eq!(items, (0..250).collect::<Vec<_>>());
    let items: Vec<u32> = within(
        "the stream",
        client.count(5).batch(1).map(Result::unwrap).collect(),
    )
    .await;
    assert_eq!(items, (0..5).collect::<Vec<_>>());
    all_dropped(&server, &probe, 2).await;
}

/// The call answers `{"u": 16 bytes}`; `NB` answers arrays, fewer than `n` at the end; `N` one
/// item or an empty payload at the end; a finished or unknown cursor is -32001. The server
/// produces only what was pulled: a slow puller holds no buffered items on the server.
async fn the_cursor_wire_is_busrts<C: Connect + Clone>(bus: &Bus, via: Via) {
    let (server, probe) = server::<C>(bus, via, LIMITS).await;
    let rpc = caller::<C>(bus, via, "caller").await;
    let u = open(&rpc, 7).await;
    let first: Vec<u32> =
        rmp_serde::from_slice(&raw(&rpc, "NB", &u, Some(3)).await.unwrap()).unwrap();
    assert_eq!(first, [0, 1, 2]);
    assert_eq!(
        probe.produced.load(Ordering::SeqCst),
        3,
        "produced ahead of the puller"
    );
    let one: u32 = rmp_serde::from_slice(&raw(&rpc, "N", &u, None).await.unwrap()).unwrap();
    assert_eq!(one, 3);
    assert_eq!(
        probe.produced.load(Ordering::SeqCst),
        4,
        "produced ahead of the puller"
    );
    let rest: Vec<u32> =
        rmp_serde::from_slice(&raw(&rpc, "NB", &u, Some(10)).await.unwrap()).unwrap();
    assert_eq!(rest, [4, 5, 6]);
    assert_eq!(
        code(raw(&rpc, "NB", &u, Some(10)).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
    all_dropped(&server, &probe, 1).await;

    // `N` to the end: one item each, then an empty payload.
    let u = open(&rpc, 2).await;
    assert_eq!(
        raw(&rpc, "N", &u, None).await.unwrap(),
        rmp_serde::to_vec(&0u32).unwrap()
    );
    assert_eq!(
        raw(&rpc, "N", &u, None).await.unwrap(),
        rmp_serde::to_vec(&1u32).unwrap()
    );
    assert_eq!(raw(&rpc, "N", &u, None).await.unwrap(), Vec::<u8>::new());
    assert_eq!(
        code(raw(&rpc, "N", &u, None).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
    assert_eq!(
        code(raw(&rpc, "N", &[0; 16], None).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
    assert_eq!(
        code(raw(&rpc, "N", b"short", None).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
    // A batch above the limit is refused, the cursor kept.
    let u = open(&rpc, 2).await;
    assert_eq!(
        code(raw(&rpc, "NB", &u, Some(101)).await.unwrap_err()),
        elbus_rpc::CODE_INVALID_PARAMS
    );
    assert_eq!(
        raw(&rpc, "rpc.cursor.close", &u, None).await.unwrap(),
        Vec::<u8>::new()
    );
    all_dropped(&server, &probe, 3).await;
}

/// A handler's error reaches the caller with its typed code and ends the stream.
async fn an_error_ends_the_stream<C: Connect + Clone>(bus: &Bus, via: Via) {
    let (server, probe) = server::<C>(bus, via, LIMITS).await;
    let client = FeedClient::new(caller::<C>(bus, via, "caller").await, SVC);
    let got: Vec<Result<u32, CallError<FeedError>>> =
        within("the stream", client.broken(2).batch(1).collect()).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], Ok(0));
    assert_eq!(got[1], Ok(1));
    assert!(
        matches!(got[2], Err(CallError::App(FeedError::Broken))),
        "{got:?}"
    );
    all_dropped(&server, &probe, 1).await;
}

/// Dropping a typed stream early, or `rpc.cursor.close`, drops the handler's stream; a closed
/// cursor is -32001.
async fn closing_early_drops_the_handler_stream<C: Connect + Clone>(bus: &Bus, via: Via) {
    let (server, probe) = server::<C>(bus, via, LIMITS).await;
    let rpc = caller::<C>(bus, via, "caller").await;
    let client = FeedClient::new(rpc.clone(), SVC);
    let mut stream = client.count(1000).batch(4);
    assert_eq!(within("an item", stream.next()).await.unwrap().unwrap(), 0);
    assert_eq!(server.router().open_streams(), 1);
    drop(stream);
    all_dropped(&server, &probe, 1).await;

    let u = open(&rpc, 1000).await;
    raw(&rpc, "rpc.cursor.close", &u, None).await.unwrap();
    all_dropped(&server, &probe, 2).await;
    assert_eq!(
        code(raw(&rpc, "NB", &u, Some(1)).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
    assert_eq!(
        code(raw(&rpc, "rpc.cursor.close", &u, None).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
}

/// How a test client leaves the bus.
trait Leave: Connect + Clone {
    fn leave(bus: &Bus, client: &RpcBus<Self>);
}

impl Leave for elbus::broker::Client {
    fn leave(_bus: &Bus, client: &RpcBus<Self>) {
        client.rpc().client().unregister();
    }
}

impl Leave for elbus::ipc::Client {
    fn leave(bus: &Bus, client: &RpcBus<Self>) {
        bus.broker
            .force_disconnect(client.rpc().client().name())
            .unwrap();
    }
}

/// The broker's `unreg` of a caller closes its open streams.
async fn a_caller_leaving_closes_its_streams<C: Leave>(bus: &Bus, via: Via) {
    // The broker's own client announces unregistrations (elbusd always runs it).
    let _api = BrokerApi::start(&bus.broker).unwrap();
    let (server, probe) = server::<C>(bus, via, LIMITS).await;
    let leaver = caller::<C>(bus, via, "leaver").await;
    let stayer = caller::<C>(bus, via, "stayer").await;
    open(&leaver, 1000).await;
    open(&leaver, 1000).await;
    let kept = open(&stayer, 3).await;
    assert_eq!(server.router().open_streams(), 3);
    C::leave(bus, &leaver);
    wait_until("the leaver's streams to close", || {
        probe.dropped.load(Ordering::SeqCst) == 2 && server.router().open_streams() == 1
    })
    .await;
    let rest: Vec<u32> =
        rmp_serde::from_slice(&raw(&stayer, "NB", &kept, Some(5)).await.unwrap()).unwrap();
    assert_eq!(rest, [0, 1, 2]);
    all_dropped(&server, &probe, 3).await;
}

/// Another client can neither pull nor close a cursor; the per-caller cap refuses one more
/// stream with -32118.
async fn only_the_opener_pulls_and_caps_hold<C: Connect + Clone>(bus: &Bus, via: Via) {
    let (server, probe) = server::<C>(bus, via, LIMITS).await;
    let owner = caller::<C>(bus, via, "owner").await;
    let other = caller::<C>(bus, via, "other").await;
    let u = open(&owner, 10).await;
    assert_eq!(
        code(raw(&other, "NB", &u, Some(1)).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
    assert_eq!(
        code(raw(&other, "rpc.cursor.close", &u, None).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
    let mine: Vec<u32> =
        rmp_serde::from_slice(&raw(&owner, "NB", &u, Some(2)).await.unwrap()).unwrap();
    assert_eq!(mine, [0, 1]);
    open(&owner, 10).await;
    open(&owner, 10).await;
    let params = rmp_serde::to_vec_named(&serde_json::json!({ "n": 1 })).unwrap();
    let refused = owner.call(SVC, "feed.count", params, T).await.unwrap_err();
    assert_eq!(code(refused), CODE_BUSY);
    // The refused stream was dropped at once; the others stay until the owner leaves.
    wait_until("the refused stream to drop", || {
        probe.dropped.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(server.router().open_streams(), 3);
    drop(owner);
    drop(other);
}

/// In process, through `Loopback`: the same typed stream; a cursor nobody pulls expires after
/// its TTL (extended by each pull) and its stream is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_streams_and_expiry() {
    let (router, probe) = feed(StreamLimits {
        ttl: Duration::from_secs(1),
        ..LIMITS
    });
    let loopback = Loopback::new(router);
    let client = FeedClient::new(loopback.clone(), SVC);
    let items: Vec<u32> = within(
        "the stream",
        client.count(40).batch(7).map(Result::unwrap).collect(),
    )
    .await;
    assert_eq!(items, (0..40).collect::<Vec<_>>());

    let u = open(&loopback, 100).await;
    // Pulls within the TTL keep it open (each pull extends it).
    for i in 0..3u32 {
        let got: Vec<u32> =
            rmp_serde::from_slice(&raw(&loopback, "NB", &u, Some(1)).await.unwrap()).unwrap();
        assert_eq!(got, [i]);
    }
    wait_until("the cursor to expire", || {
        probe.dropped.load(Ordering::SeqCst) == 2 && loopback.router().open_streams() == 0
    })
    .await;
    assert_eq!(
        code(raw(&loopback, "NB", &u, Some(1)).await.unwrap_err()),
        CODE_CURSOR_NOT_FOUND
    );
}

// ---------------------------------------------------------------------------------------------
// Push streams with credit

/// A push stream over the bus: every item in order, never more than the credit ahead of the
/// consumer (the handler produces an item only when it may send it), and the handler's stream
/// dropped at the end.
async fn push_streams_respect_the_credit<C: Connect + Clone>(bus: &Bus, via: Via) {
    const CREDIT: u32 = 4;
    let (server, probe) = server::<C>(bus, via, LIMITS).await;
    let client = FeedClient::new(caller::<C>(bus, via, "caller").await, SVC);
    let mut stream = client.count(100).push(CREDIT);
    let mut got = Vec::new();
    while let Some(item) = within("an item", stream.next()).await {
        got.push(item.unwrap());
        // The slow consumer: the server is never more than the credit ahead of it.
        let produced = probe.produced.load(Ordering::SeqCst);
        assert!(
            produced <= got.len() + CREDIT as usize,
            "{produced} produced for {} consumed",
            got.len()
        );
    }
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    all_dropped(&server, &probe, 1).await;

    // An error ends a push stream with the typed error.
    let got: Vec<Result<u32, CallError<FeedError>>> =
        within("the stream", client.broken(2).push(CREDIT).collect()).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        matches!(got[2], Err(CallError::App(FeedError::Broken))),
        "{got:?}"
    );
    all_dropped(&server, &probe, 2).await;
}

/// Dropping a push stream cancels it on the server, and a caller leaving cancels its push
/// streams; a consumer that stops reading holds the server at its credit.
async fn push_streams_are_cancelled<C: Leave>(bus: &Bus, via: Via) {
    let _api = BrokerApi::start(&bus.broker).unwrap();
    let (server, probe) = server::<C>(bus, via, LIMITS).await;
    let rpc = caller::<C>(bus, via, "caller").await;
    let client = FeedClient::new(rpc.clone(), SVC);
    let mut stream = client.count(1_000_000).push(3);
    assert_eq!(within("an item", stream.next()).await.unwrap().unwrap(), 0);
    // Not reading: the server stops at the credit (3 granted, 1 consumed and not yet topped up).
    wait_until("the server to use its credit", || {
        probe.produced.load(Ordering::SeqCst) == 3
    })
    .await;
    drop(stream);
    all_dropped(&server, &probe, 1).await;
    assert!(rpc.push_inboxes().unwrap().is_empty());

    let leaver = caller::<C>(bus, via, "leaver").await;
    let mut stream = FeedClient::new(leaver.clone(), SVC)
        .count(1_000_000)
        .push(2);
    assert_eq!(within("an item", stream.next()).await.unwrap().unwrap(), 0);
    C::leave(bus, &leaver);
    all_dropped(&server, &probe, 2).await;
}

elbus_suite::on_every_transport!(push_streams_respect_the_credit, push_streams_are_cancelled);

/// In process through `Loopback` there is nobody to push to: the stream fails with a clear
/// error, and the server keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_needs_a_bus() {
    let (router, _probe) = feed(LIMITS);
    let loopback = Loopback::new(router);
    let client = FeedClient::new(loopback.clone(), SVC);
    let got: Vec<_> = within("the stream", client.count(3).push(2).collect()).await;
    assert_eq!(got.len(), 1);
    assert!(
        matches!(&got[0], Err(CallError::Transport(e)) if e.message().contains("RpcBus")),
        "{got:?}"
    );
    assert_eq!(loopback.router().open_streams(), 0);
}

/// A push stream whose consumer grants no more credit ends after the TTL: the consumer gets the
/// timeout, the server drops the handler's stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_without_credit_expires() {
    let bus = Bus::start().await;
    let limits = StreamLimits {
        ttl: Duration::from_secs(1),
        ..LIMITS
    };
    let (server, probe) = server::<elbus::ipc::Client>(&bus, Via::Unix, limits).await;
    let client = FeedClient::new(
        caller::<elbus::ipc::Client>(&bus, Via::Unix, "caller").await,
        SVC,
    );
    // A window of 1: each item consumed grants one more.
    let mut stream = client.count(1_000_000).push(1);
    for i in 0..3 {
        assert_eq!(within("an item", stream.next()).await.unwrap().unwrap(), i);
    }
    // Stop consuming: the server has credit for one more item, then none; after the TTL it
    // gives up and drops the handler's stream.
    all_dropped(&server, &probe, 1).await;
    assert_eq!(
        within("the last item", stream.next())
            .await
            .unwrap()
            .unwrap(),
        3
    );
    let end = within("the end", stream.next()).await;
    assert!(matches!(end, Some(Err(CallError::Timeout))), "{end:?}");
    assert!(within("the end", stream.next()).await.is_none());
}
