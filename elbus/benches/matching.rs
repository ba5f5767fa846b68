//! Routing-index benchmarks: publish cost against growing numbers of subscriptions, and broadcast
//! cost over many client names.
//!
//! Run with `cargo bench -p elbus --bench matching`. The publish groups should stay flat as the
//! subscription count grows: the index only walks the branches the topic selects.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use elbus::matching::{topic_matches, NameIndex, TopicIndex};

/// Subscription counts to publish against.
const SUBSCRIPTION_COUNTS: [usize; 3] = [1, 1_000, 100_000];

/// A benchmark case: its name, how to build the i-th pattern, and the topic to publish.
type PatternShape = (&'static str, fn(usize) -> String, String);

/// Publishes one topic against `count` distinct wildcard subscriptions of which exactly one
/// matches, for two shapes of pattern: wildcard after a literal prefix, and wildcard first.
fn topic_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("topic_publish");
    for count in SUBSCRIPTION_COUNTS {
        let target = count / 2;
        let shapes: [PatternShape; 2] = [
            (
                "literal_then_plus",
                |i| format!("fleet/dev{i}/+/temp"),
                format!("fleet/dev{target}/kitchen/temp"),
            ),
            (
                "plus_then_hash",
                |i| format!("+/dev{i}/#"),
                format!("site/dev{target}/kitchen/temp"),
            ),
        ];
        for (shape, pattern_of, topic) in shapes {
            let mut index = TopicIndex::new();
            for i in 0..count {
                index.insert(&pattern_of(i), i as u64);
            }
            let mut out = Vec::with_capacity(4);
            index.matches(&topic, &mut out);
            assert_eq!(out, [target as u64], "exactly one subscription matches");
            group.bench_with_input(BenchmarkId::new(shape, count), &topic, |b, topic| {
                b.iter(|| {
                    out.clear();
                    index.matches(black_box(topic), &mut out);
                    black_box(out.len())
                })
            });
        }
        // For contrast: what the naive scan over every subscription costs (skipped at 100,000,
        // where one iteration takes milliseconds).
        if count <= 1_000 {
            let patterns: Vec<String> =
                (0..count).map(|i| format!("fleet/dev{i}/+/temp")).collect();
            let topic = format!("fleet/dev{target}/kitchen/temp");
            group.bench_with_input(
                BenchmarkId::new("linear_scan_reference", count),
                &topic,
                |b, topic| {
                    b.iter(|| {
                        patterns
                            .iter()
                            .filter(|p| topic_matches(p, black_box(topic)))
                            .count()
                    })
                },
            );
        }
    }
    group.finish();
}

/// Broadcasts over 10,000 names (`node0.worker0` … `node999.worker9`) with masks of different
/// reach.
fn mask_broadcast(c: &mut Criterion) {
    let mut index = NameIndex::new();
    let mut key = 0u64;
    for node in 0..1_000 {
        for worker in 0..10 {
            index.insert(&format!("node{node}.worker{worker}"), key);
            key += 1;
        }
    }
    let mut group = c.benchmark_group("mask_broadcast_10k_names");
    let masks = [
        ("exact", "node500.worker3", 1),
        ("literal_then_star", "node500.*", 10),
        ("question_then_literal", "?.worker3", 1_000),
        ("star_all", "*", 10_000),
    ];
    for (label, mask, receivers) in masks {
        let mut out = Vec::with_capacity(10_000);
        index.matches(mask, &mut out);
        assert_eq!(out.len(), receivers, "mask {mask}");
        group.bench_with_input(BenchmarkId::new(label, receivers), mask, |b, mask| {
            b.iter(|| {
                out.clear();
                index.matches(black_box(mask), &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, topic_publish, mask_broadcast);
criterion_main!(benches);
