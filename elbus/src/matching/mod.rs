//! Topic and client-name pattern matching, and the indexes the broker routes with.
//!
//! Topics are `/`-separated with `+` (one part) and `#` (one or more remaining parts); client-name
//! masks are `.`-separated with `?` (one part) and `*` (one or more remaining parts). Unlike MQTT,
//! `x/#` does not match `x` (`protocol.md` §8.2).
//!
//! [`TopicIndex`] and [`NameIndex`] are compressed tries over those parts, so routing one
//! publication or broadcast costs about the length of its topic or mask plus the number of
//! receivers, however many subscriptions or clients there are, and an entry costs at most two
//! trie nodes plus its own bytes, however many parts it has. [`topic_matches`] and
//! [`mask_matches`] are the plain reference rules the indexes are tested against.

pub mod mask;
mod radix;
pub mod topic;

pub use mask::{mask_matches, NameIndex};
pub use topic::{topic_matches, TopicIndex};

/// How many forks a trie walk may nest on the call stack before it queues them on the heap.
///
/// Topics, patterns and names come from clients, so a trie can be arbitrarily deep; this keeps a
/// hostile one from overflowing the stack, while ordinary tries never reach it and so never
/// allocate while matching.
const MAX_NESTING: usize = 64;
