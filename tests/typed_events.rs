//! Typed events (`#[derive(RpcEvent)]`, `RpcBus`) over in-process clients, UNIX and TCP: one
//! connection serving calls and receiving events, publishing from a client and from a
//! handler's context, order, filters by variant and sender, `Lagged(n)` on overflow, key
//! values refused at publish time, undecodable payloads reported, unsubscribing on drop, and
//! the events in `rpc.describe`.

use std::time::Duration;

use elbus_rpc::{
    rpc, EventError, EventFilter, Loopback, RecvError, RpcBus, RpcContext, RpcError, RpcEvent,
    RpcRouter, RpcTransport,
};
use elbus_suite::rpc::{acked, wait_until, within, Bus, Connect, Via};

/// The events of the test home.
#[derive(Debug, Clone, PartialEq, RpcEvent)]
#[rpc(namespace = "home")]
enum HomeEvent {
    /// A room's temperature changed.
    #[rpc(topic = "home/temp/{room}")]
    Temp { room: String, celsius: i64 },
    /// The alarm was reset.
    Reset,
    /// A door opened or closed.
    Door { open: bool },
}

#[derive(Debug, PartialEq, RpcError)]
enum HomeError {
    /// The event was not published.
    #[rpc(code = 2)]
    NotPublished(String),
}

/// A home that publishes what it is told.
#[rpc(namespace = "home", events = HomeEvent)]
trait Home {
    /// Sets a room's temperature and publishes `home/temp/{room}`.
    async fn set(&self, room: String, celsius: i64, ctx: &RpcContext) -> Result<(), HomeError>;
}

struct HomeImpl;

impl Home for HomeImpl {
    async fn set(&self, room: String, celsius: i64, ctx: &RpcContext) -> Result<(), HomeError> {
        ctx.publish(&HomeEvent::Temp { room, celsius })
            .await
            .map_err(|e| HomeError::NotPublished(e.to_string()))
    }
}

/// A second service, served by the client that also watches the events.
#[rpc(namespace = "watcher")]
trait Watcher {
    /// Answers `n + 1`.
    async fn bump(&self, n: i64) -> Result<i64, HomeError>;
}

struct WatcherImpl;

impl Watcher for WatcherImpl {
    async fn bump(&self, n: i64) -> Result<i64, HomeError> {
        Ok(n + 1)
    }
}

const SVC: &str = "svc.home";

async fn node<C: Connect + Clone>(bus: &Bus, via: Via, name: &str, router: RpcRouter) -> RpcBus<C> {
    RpcBus::serve(C::connect(bus, via, name).await, router).unwrap()
}

fn temp(room: &str, celsius: i64) -> HomeEvent {
    HomeEvent::Temp {
        room: room.into(),
        celsius,
    }
}

elbus_suite::on_every_transport!(
    one_connection_serves_calls_and_receives_events_in_order,
    filters_choose_variants_and_senders,
    a_full_buffer_reports_lagged,
    keys_that_would_break_the_topic_are_refused,
    dropping_a_receiver_unsubscribes,
);

/// The watcher serves `watcher.bump` and receives `home/*` events on one connection; events
/// published by the service's handlers and by the service's bus client arrive in order.
async fn one_connection_serves_calls_and_receives_events_in_order<C: Connect + Clone>(
    bus: &Bus,
    via: Via,
) {
    let home = node::<C>(
        bus,
        via,
        SVC,
        RpcRouter::new().service(HomeImpl.into_handler()),
    )
    .await;
    let watcher = node::<C>(
        bus,
        via,
        "watcher",
        RpcRouter::new().service(WatcherImpl.into_handler()),
    )
    .await;
    let mut events = watcher.subscribe::<HomeEvent>().await.unwrap();

    // An event published by a handler, through the call's context.
    let client = HomeClient::new(watcher.clone(), SVC);
    client.set("kitchen".into(), 21).await.unwrap();
    let got = within("the handler's event", events.recv()).await.unwrap();
    assert_eq!(got.event, temp("kitchen", 21));
    assert_eq!(got.topic, "home/temp/kitchen");
    assert_eq!(got.sender, SVC);

    // The watcher still serves calls on the same connection.
    let caller = node::<C>(bus, via, "caller", RpcRouter::new()).await;
    let bump = WatcherClient::new(caller.clone(), "watcher");
    assert_eq!(bump.bump(41).await.unwrap(), 42);

    // Order: what one client publishes arrives in publishing order.
    for i in 0..50 {
        home.publish(&temp("hall", i)).await.unwrap();
    }
    home.publish(&HomeEvent::Reset).await.unwrap();
    home.publish(&HomeEvent::Door { open: true }).await.unwrap();
    for i in 0..50 {
        let got = within("event", events.recv()).await.unwrap();
        assert_eq!(got.event, temp("hall", i));
    }
    let got = within("reset", events.recv()).await.unwrap();
    assert_eq!(
        (got.event, got.topic.as_str()),
        (HomeEvent::Reset, "home/reset")
    );
    let got = within("door", events.recv()).await.unwrap();
    assert_eq!(got.event, HomeEvent::Door { open: true });
    assert_eq!(got.topic, "home/door");
}

/// A variant filter receives only its variant; a sender filter only that sender's events.
async fn filters_choose_variants_and_senders<C: Connect + Clone>(bus: &Bus, via: Via) {
    let one = node::<C>(bus, via, "pub.one", RpcRouter::new()).await;
    let two = node::<C>(bus, via, "pub.two", RpcRouter::new()).await;
    let watcher = node::<C>(bus, via, "watcher", RpcRouter::new()).await;
    let mut doors = watcher
        .subscribe_with(EventFilter::<HomeEvent>::new().variant("Door"))
        .await
        .unwrap();
    let mut from_one = watcher
        .subscribe_with(EventFilter::<HomeEvent>::new().sender("pub.one"))
        .await
        .unwrap();
    assert_eq!(
        watcher
            .subscribe_with(EventFilter::<HomeEvent>::new().variant("Window"))
            .await
            .unwrap_err(),
        EventError::UnknownVariant("Window".into())
    );

    two.publish(&temp("a", 1)).await.unwrap();
    one.publish(&temp("b", 2)).await.unwrap();
    two.publish(&HomeEvent::Door { open: true }).await.unwrap();
    one.publish(&HomeEvent::Door { open: false }).await.unwrap();
    // Fences: the last event each receiver gets.
    one.publish(&HomeEvent::Reset).await.unwrap();

    let mut got = Vec::new();
    for _ in 0..2 {
        let e = within("a door", doors.recv()).await.unwrap();
        got.push((e.sender, e.event));
    }
    assert_eq!(
        got,
        [
            ("pub.two".to_owned(), HomeEvent::Door { open: true }),
            ("pub.one".to_owned(), HomeEvent::Door { open: false }),
        ]
    );
    let mut got = Vec::new();
    for _ in 0..3 {
        let e = within("an event of pub.one", from_one.recv())
            .await
            .unwrap();
        assert_eq!(e.sender, "pub.one");
        got.push(e.event);
    }
    assert_eq!(
        got,
        [
            temp("b", 2),
            HomeEvent::Door { open: false },
            HomeEvent::Reset
        ]
    );
    assert_eq!(doors.queued(), 0);
}

/// A receiver that does not read holds at most its buffer; the overflow is reported as
/// `Lagged(n)` before the newest events, never dropped silently.
async fn a_full_buffer_reports_lagged<C: Connect + Clone>(bus: &Bus, via: Via) {
    const BUFFER: usize = 4;
    const SENT: i64 = 10;
    let home = node::<C>(bus, via, SVC, RpcRouter::new()).await;
    let watcher = node::<C>(bus, via, "watcher", RpcRouter::new()).await;
    let mut slow = watcher
        .subscribe_with(EventFilter::<HomeEvent>::new().buffer(BUFFER))
        .await
        .unwrap();
    let mut fast = watcher.subscribe::<HomeEvent>().await.unwrap();
    for i in 0..SENT {
        home.publish(&temp("x", i)).await.unwrap();
    }
    // Each publication reaches every receiver at once: once `fast` has them all, so had `slow`.
    for i in 0..SENT {
        assert_eq!(
            within("event", fast.recv()).await.unwrap().event,
            temp("x", i)
        );
    }
    assert_eq!(slow.queued(), BUFFER);
    assert_eq!(
        within("lag", slow.recv()).await.unwrap_err(),
        RecvError::Lagged(SENT as u64 - BUFFER as u64)
    );
    for i in SENT - BUFFER as i64..SENT {
        assert_eq!(
            within("event", slow.recv()).await.unwrap().event,
            temp("x", i)
        );
    }
}

/// `/`, `+`, `#`, NUL and empty key values are refused before anything is sent, from a client
/// and from a handler.
async fn keys_that_would_break_the_topic_are_refused<C: Connect + Clone>(bus: &Bus, via: Via) {
    let home = node::<C>(
        bus,
        via,
        SVC,
        RpcRouter::new().service(HomeImpl.into_handler()),
    )
    .await;
    let watcher = node::<C>(bus, via, "watcher", RpcRouter::new()).await;
    let mut events = watcher.subscribe::<HomeEvent>().await.unwrap();
    for bad in ["a/b", "+", "#", "x\0", ""] {
        let err = home.publish(&temp(bad, 1)).await.unwrap_err();
        assert_eq!(
            err,
            EventError::InvalidKey {
                variant: "Temp",
                field: "room",
                value: bad.into()
            }
        );
    }
    let client = HomeClient::new(watcher.clone(), SVC);
    match client.set("up/stairs".into(), 1).await {
        Err(elbus_rpc::CallError::App(HomeError::NotPublished(m))) => {
            assert!(m.contains("can't be a topic segment"), "{m}")
        }
        other => panic!("unexpected {other:?}"),
    }
    // A publication on one of the topics that is not the variant's map is reported, and the
    // receiver goes on.
    let raw = home.rpc().client();
    acked(raw.publish("home/door", b"\xc1", elbus::QoS::Processed)).await;
    match within("the bad payload", events.recv()).await {
        Err(RecvError::Decode { topic, sender, .. }) => {
            assert_eq!((topic.as_str(), sender.as_str()), ("home/door", SVC))
        }
        other => panic!("unexpected {other:?}"),
    }
    home.publish(&HomeEvent::Reset).await.unwrap();
    assert_eq!(
        within("the fence", events.recv()).await.unwrap().event,
        HomeEvent::Reset
    );
}

/// Two receivers of one topic share the broker subscription; dropping one leaves the other
/// receiving, dropping both unsubscribes.
async fn dropping_a_receiver_unsubscribes<C: Connect + Clone>(bus: &Bus, via: Via) {
    let home = node::<C>(bus, via, SVC, RpcRouter::new()).await;
    let watcher = node::<C>(bus, via, "watcher", RpcRouter::new()).await;
    let first = watcher.subscribe::<HomeEvent>().await.unwrap();
    let mut second = watcher.subscribe::<HomeEvent>().await.unwrap();
    assert_eq!(watcher.events().subscriptions(), 2);
    drop(first);
    wait_until("the first receiver to go", || {
        watcher.events().subscriptions() == 1
    })
    .await;
    home.publish(&HomeEvent::Reset).await.unwrap();
    assert_eq!(
        within("event", second.recv()).await.unwrap().event,
        HomeEvent::Reset
    );
    drop(second);
    wait_until("the second receiver to go", || {
        watcher.events().subscriptions() == 0
    })
    .await;
}

/// `rpc.describe` lists each event's topic, pattern, fields (with their schema v2 descriptors)
/// and docs; in process a handler has no bus to publish on and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_lists_events_and_loopback_has_no_bus() {
    let loopback = Loopback::new(RpcRouter::new().service(HomeImpl.into_handler()));
    let reply = loopback
        .call(SVC, "rpc.describe", Vec::new(), Duration::from_secs(5))
        .await
        .unwrap();
    let describe: serde_json::Value = rmp_serde::from_slice(&reply).unwrap();
    let events = &describe["services"][0]["events"];
    assert_eq!(events.as_array().unwrap().len(), 3, "{events}");
    assert_eq!(events[0]["name"], "Temp");
    assert_eq!(events[0]["topic"], "home/temp/{room}");
    assert_eq!(events[0]["pattern"], "home/temp/+");
    assert_eq!(events[0]["description"], "A room's temperature changed.");
    assert_eq!(
        events[0]["fields"],
        serde_json::json!([
            {"name": "room", "type": "String", "schema": {"type": "string"}},
            {"name": "celsius", "type": "i64", "schema": {"type": "integer", "format": "int64"}}
        ])
    );
    assert_eq!(events[1]["topic"], "home/reset");
    assert_eq!(events[1]["fields"], serde_json::json!([]));
    assert_eq!(events[2]["topic"], "home/door");

    // The wire payload: a map of the fields, `{}` for a unit variant.
    let payload = temp("k", 3).encode_payload().unwrap();
    let map = rmpv::Value::Map(vec![
        ("room".into(), "k".into()),
        ("celsius".into(), 3.into()),
    ]);
    assert_eq!(payload, rmp_serde::to_vec(&map).unwrap());
    assert_eq!(HomeEvent::Reset.encode_payload().unwrap(), [0x80]);
    assert_eq!(
        HomeEvent::decode("home/reset", b"").unwrap(),
        Some(HomeEvent::Reset)
    );
    assert_eq!(HomeEvent::decode("home/attic", &payload).unwrap(), None);

    let client = HomeClient::new(loopback, SVC);
    match client.set("k".into(), 1).await {
        Err(elbus_rpc::CallError::App(HomeError::NotPublished(m))) => {
            assert!(m.contains("no bus"), "{m}")
        }
        other => panic!("unexpected {other:?}"),
    }
}
