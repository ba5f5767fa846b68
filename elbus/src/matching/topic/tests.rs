//! Unit and property tests of topic matching and the subscription index.

use super::*;
use proptest::prelude::*;

/// The observed table of `protocol.md` §8.2.
#[test]
fn spec_table() {
    let topics = ["x", "x/b", "x/b/c", "x/b/c/d", "", "/", "x/", "y/b/c"];
    let table: [(&str, [bool; 8]); 8] = [
        ("x/#", [false, true, true, true, false, false, true, false]),
        (
            "x/+",
            [false, true, false, false, false, false, true, false],
        ),
        (
            "x/+/c",
            [false, false, true, false, false, false, false, false],
        ),
        ("+", [true, false, false, false, true, false, false, false]),
        ("#", [true; 8]),
        ("+/#", [false, true, true, true, false, true, true, true]),
        (
            "x/#/c",
            [false, true, true, true, false, false, true, false],
        ),
        ("x", [true, false, false, false, false, false, false, false]),
    ];
    for (pattern, expected) in table {
        for (topic, want) in topics.iter().zip(expected) {
            assert_eq!(
                topic_matches(pattern, topic),
                want,
                "pattern {pattern:?} topic {topic:?}"
            );
        }
    }
    // The index agrees with the table: each pattern subscribed by its own key.
    let mut index = TopicIndex::new();
    for (key, (pattern, _)) in table.iter().enumerate() {
        index.insert(pattern, key);
    }
    for (column, topic) in topics.iter().enumerate() {
        let mut out = Vec::new();
        index.matches(topic, &mut out);
        let want: Vec<usize> = (0..table.len())
            .filter(|&key| table[key].1[column])
            .collect();
        assert_eq!(out, want, "topic {topic:?}");
    }
}

#[test]
fn index_dedups_and_counts() {
    let mut index = TopicIndex::new();
    index.insert("x/#", 1u64);
    index.insert("x/#/c", 1);
    index.insert("x/+", 2);
    let mut out = Vec::new();
    index.matches("x/b", &mut out);
    assert_eq!(out, [1, 2]);
    assert!(index.remove("x/#", 1));
    out.clear();
    index.matches("x/b", &mut out);
    assert_eq!(out, [1, 2]);
    assert!(index.remove("x/#/c", 1));
    assert!(!index.remove("x/#/c", 1));
    out.clear();
    index.matches("x/b", &mut out);
    assert_eq!(out, [2]);
}

#[test]
fn matches_appends_after_existing_output() {
    let mut index = TopicIndex::new();
    index.insert("a/+", 3u64);
    index.insert("a/#", 3);
    index.insert("+/b", 1);
    let mut out = vec![9, 3];
    index.matches("a/b", &mut out);
    assert_eq!(out, [9, 3, 1, 3]);
}

#[test]
fn remove_prunes_every_node() {
    let mut index = TopicIndex::new();
    let patterns = ["a/b/c", "a/+/c", "a/#", "+/+/#", "", "/", "a/b/c/d/e/f"];
    for (key, pattern) in patterns.iter().enumerate() {
        index.insert(pattern, key);
        index.insert(pattern, key);
    }
    assert_eq!(index.len(), 2 * patterns.len());
    assert!(!index.remove("a/b", 0));
    assert!(!index.remove("a/b/c", 1));
    for _ in 0..2 {
        for (key, pattern) in patterns.iter().enumerate() {
            assert!(index.remove(pattern, key), "{pattern:?}");
        }
    }
    assert!(index.is_empty());
    assert_eq!(index.live_nodes(), 1);
    // Freed slots are reused rather than growing the arena.
    let arena = index.trie.arena_len();
    for (key, pattern) in patterns.iter().enumerate() {
        index.insert(pattern, key);
    }
    assert_eq!(index.trie.arena_len(), arena);
}

/// Forks nested deeper than `MAX_NESTING` go through the deferred list and still match.
#[test]
fn deeply_nested_forks() {
    let depth = 3 * MAX_NESTING;
    let mut patterns = Vec::new();
    // Every `+`-chain node also has a literal `a` child, so the walk forks at every level.
    for pluses in 0..depth {
        let mut pattern = "+/".repeat(pluses);
        pattern.push('a');
        patterns.push(pattern);
    }
    patterns.push(format!("{}#", "+/".repeat(depth)));
    let mut index = TopicIndex::new();
    for (key, pattern) in patterns.iter().enumerate() {
        index.insert(pattern, key);
    }
    for parts in [1, MAX_NESTING, depth, depth + 1, depth + 2] {
        let topic = vec!["a"; parts].join("/");
        let mut out = Vec::new();
        index.matches(&topic, &mut out);
        let want: Vec<usize> = (0..patterns.len())
            .filter(|&key| topic_matches(&patterns[key], &topic))
            .collect();
        assert!(!want.is_empty());
        assert_eq!(out, want, "{parts} parts");
    }
}

/// A pattern of very many parts must not overflow the stack when matched or dropped.
#[test]
fn very_long_pattern() {
    let pattern = vec!["a"; 200_000].join("/");
    let mut index = TopicIndex::new();
    index.insert(&pattern, 1u64);
    index.insert("+/#", 2);
    let mut out = Vec::new();
    index.matches(&pattern, &mut out);
    assert_eq!(out, [1, 2]);
    drop(index);
}

/// After most of many subscriptions leave, the trie is rebuilt smaller and still answers
/// like the reference matcher.
#[test]
fn compaction_keeps_answers() {
    let patterns: Vec<String> = (0..400)
        .map(|n| match n % 4 {
            0 => format!("a/{n}/+/x"),
            1 => format!("+/{n}/#"),
            2 => format!("a/b/{n}"),
            _ => format!("{n}/+/+"),
        })
        .collect();
    let mut index = TopicIndex::new();
    for (key, pattern) in patterns.iter().enumerate() {
        index.insert(pattern, key);
    }
    let grown = index.trie.arena_len();
    let kept: Vec<usize> = (0..patterns.len()).filter(|key| key % 37 == 0).collect();
    for (key, pattern) in patterns.iter().enumerate() {
        if !kept.contains(&key) {
            assert!(index.remove(pattern, key), "{pattern}");
        }
    }
    assert!(index.trie.arena_len() < grown / 2);
    for topic in [
        "a/0/q/x", "a/37/q/x", "z/74/q", "a/b/111", "148/q/r", "a/b/c",
    ] {
        let mut out = Vec::new();
        index.matches(topic, &mut out);
        let want: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&key| topic_matches(&patterns[key], topic))
            .collect();
        assert_eq!(out, want, "{topic}");
    }
}

/// Parts that exercise every rule: empty parts, both wildcards, and literals.
const PARTS: [&str; 5] = ["", "a", "b", "+", "#"];

fn pattern_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&PARTS[..]), 1..=4).prop_map(|p| p.join("/"))
}

#[derive(Debug, Clone)]
enum Op {
    Insert(String, u8),
    Remove(String, u8),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    (any::<bool>(), pattern_strategy(), 0u8..4).prop_map(|(insert, pattern, key)| {
        if insert {
            Op::Insert(pattern, key)
        } else {
            Op::Remove(pattern, key)
        }
    })
}

/// Every topic of one to three parts over `PARTS` (published topics are literal, so `+` and
/// `#` in them are plain text).
fn probe_topics() -> Vec<String> {
    let mut topics: Vec<String> = PARTS.iter().map(|p| p.to_string()).collect();
    let mut last = topics.clone();
    for _ in 1..3 {
        last = last
            .iter()
            .flat_map(|prefix| PARTS.iter().map(move |p| format!("{prefix}/{p}")))
            .collect();
        topics.extend(last.iter().cloned());
    }
    topics
}

/// What the index stores of a pattern: its parts up to and including the first `#`.
fn canonical(pattern: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    for part in pattern.split('/') {
        parts.push(part);
        if part == "#" {
            break;
        }
    }
    parts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// After any insert/remove sequence the index answers like the reference matcher applied
    /// to a plain list of the live subscriptions, and prunes back to the root when emptied.
    #[test]
    fn agrees_with_reference(
        ops in prop::collection::vec(op_strategy(), 1..24),
        extra_topics in prop::collection::vec(pattern_strategy(), 4),
    ) {
        let mut index = TopicIndex::new();
        let mut model: Vec<(String, u8)> = Vec::new();
        for op in &ops {
            match op {
                Op::Insert(pattern, key) => {
                    index.insert(pattern, *key);
                    model.push((pattern.clone(), *key));
                }
                Op::Remove(pattern, key) => {
                    let found = model
                        .iter()
                        .position(|(p, k)| canonical(p) == canonical(pattern) && k == key);
                    if let Some(pos) = found {
                        model.swap_remove(pos);
                    }
                    prop_assert_eq!(index.remove(pattern, *key), found.is_some());
                }
            }
            prop_assert_eq!(index.len(), model.len());
        }
        let mut topics = probe_topics();
        topics.extend(extra_topics);
        let mut out = Vec::new();
        for topic in &topics {
            out.clear();
            index.matches(topic, &mut out);
            let mut want: Vec<u8> = model
                .iter()
                .filter(|(pattern, _)| topic_matches(pattern, topic))
                .map(|&(_, key)| key)
                .collect();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(&out, &want, "topic {:?}", topic);
        }
        for (pattern, key) in model.drain(..) {
            prop_assert!(index.remove(&pattern, key));
        }
        prop_assert!(index.is_empty());
        prop_assert_eq!(index.live_nodes(), 1);
    }
}
