//! Broker-level publish benchmark: one publication routed by an embedded [`Broker`] and delivered
//! to an in-process subscriber that holds 1, 1,000 or 100,000 distinct wildcard subscriptions, of
//! which exactly one matches the topic.
//!
//! Unlike `benches/matching.rs`, which times the topic index alone, each iteration here is the
//! whole path: the publisher's call, the registry lookup, encoding the delivery, the subscriber's
//! queue, its forwarder task and the receive on its event channel. The cost should stay flat as
//! the subscription count grows.
//!
//! Run with `cargo bench -p elbus --bench broker_publish`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use elbus::broker::{Broker, Client};
use elbus::matching::topic_matches;
use elbus::{AsyncClient, EventChannel, QoS};
use tokio::runtime::Runtime;

/// Subscription counts the subscriber holds.
const SUBSCRIPTION_COUNTS: [usize; 3] = [1, 1_000, 100_000];

/// The published payload.
const PAYLOAD: &[u8] = b"21.5";

/// A benchmark case: its name, how to build the i-th pattern, and the topic matching pattern
/// `target` alone.
type PatternShape = (&'static str, fn(usize) -> String, fn(usize) -> String);

/// The pattern shapes of `benches/matching.rs`: a wildcard after a literal prefix, and a
/// wildcard first.
const SHAPES: [PatternShape; 2] = [
    (
        "literal_then_plus",
        |i| format!("fleet/dev{i}/+/temp"),
        |target| format!("fleet/dev{target}/kitchen/temp"),
    ),
    (
        "plus_then_hash",
        |i| format!("+/dev{i}/#"),
        |target| format!("site/dev{target}/kitchen/temp"),
    ),
];

/// An embedded broker with a publisher and a subscriber holding `count` patterns.
struct Setup {
    /// Kept so the broker outlives the measurement.
    _broker: Broker,
    publisher: Client,
    /// Kept so the subscriber stays registered.
    _subscriber: Client,
    events: EventChannel,
    topic: String,
}

impl Setup {
    /// Registers the two clients inside `rt` and subscribes `count` patterns of `shape`,
    /// checking that exactly one of them matches the topic and that one publication arrives.
    fn new(rt: &Runtime, count: usize, (_, pattern_of, topic_of): PatternShape) -> Setup {
        let _entered = rt.enter();
        let broker = Broker::new();
        let subscriber = broker
            .register_client("bench.subscriber")
            .expect("subscriber registers");
        let mut events = subscriber
            .take_event_channel()
            .expect("a new client's event channel");
        let publisher = broker
            .register_client("bench.publisher")
            .expect("publisher registers");
        let patterns: Vec<String> = (0..count).map(pattern_of).collect();
        let topic = topic_of(count / 2);
        let matching = patterns.iter().filter(|p| topic_matches(p, &topic)).count();
        assert_eq!(matching, 1, "exactly one subscription matches {topic}");
        let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
        rt.block_on(async {
            subscriber
                .subscribe_bulk(&patterns, QoS::No)
                .await
                .expect("subscribed")
                .await
                .expect("subscription confirmed");
            publisher
                .publish(&topic, PAYLOAD, QoS::No)
                .await
                .expect("published");
            let frame = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("delivered in time")
                .expect("event channel open");
            assert_eq!(frame.topic(), Some(topic.as_str()));
            assert_eq!(frame.payload(), PAYLOAD);
        });
        Setup {
            _broker: broker,
            publisher,
            _subscriber: subscriber,
            events,
            topic,
        }
    }

    /// Publishes `iters` times, receiving each delivery before the next publication, and
    /// returns the time it took.
    async fn run(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            self.publisher
                .publish(black_box(&self.topic), PAYLOAD, QoS::No)
                .await
                .expect("published");
            let frame = self.events.recv().await.expect("delivered");
            black_box(frame);
        }
        start.elapsed()
    }
}

/// Publish-and-deliver round trips against growing subscription counts.
fn broker_publish(c: &mut Criterion) {
    // One thread: the publisher, the broker's routing (done in the publisher's call) and the
    // subscriber's forwarder all run on it, so the numbers are CPU cost, not scheduling luck.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let mut group = c.benchmark_group("broker_publish");
    for count in SUBSCRIPTION_COUNTS {
        for shape in SHAPES {
            let mut setup = Setup::new(&rt, count, shape);
            group.bench_function(BenchmarkId::new(shape.0, count), |b| {
                b.iter_custom(|iters| rt.block_on(setup.run(iters)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, broker_publish);
criterion_main!(benches);
