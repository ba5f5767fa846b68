//! Topic and client-name pattern matching, and the indexes the broker routes with.
//!
//! Topics are `/`-separated with `+` (one part) and `#` (one or more remaining parts); client-name
//! masks are `.`-separated with `?` (one part) and `*` (one or more remaining parts). Unlike MQTT,
//! `x/#` does not match `x` (`protocol.md` §8.2).

pub mod mask;
pub mod topic;

pub use mask::{mask_matches, NameIndex};
pub use topic::{topic_matches, TopicIndex};
