//! The topic patterns a client subscribed to and excluded, recorded so that a reconnect can
//! replay them on the new connection.

use std::collections::BTreeSet;

use crate::protocol::Op;

/// The topic patterns a client subscribed to and excluded, as the broker should hold them.
#[derive(Debug, Default)]
pub(crate) struct Topics {
    subscribed: BTreeSet<String>,
    excluded: BTreeSet<String>,
}

impl Topics {
    /// Records a topic operation that was handed to the connection.
    pub(crate) fn apply(&mut self, op: Op, topics: &[&str]) {
        let owned = topics.iter().map(|topic| (*topic).to_owned());
        match op {
            Op::Subscribe => self.subscribed.extend(owned),
            Op::Exclude => self.excluded.extend(owned),
            Op::Unsubscribe => topics.iter().for_each(|t| {
                self.subscribed.remove(*t);
            }),
            Op::Unexclude => topics.iter().for_each(|t| {
                self.excluded.remove(*t);
            }),
            _ => {}
        }
    }

    /// The operations that restore this state on a fresh connection (an empty list is never
    /// sent: the broker would read it as one empty topic).
    pub(crate) fn replay(&self) -> Vec<(Op, Vec<String>)> {
        [
            (Op::Subscribe, &self.subscribed),
            (Op::Exclude, &self.excluded),
        ]
        .into_iter()
        .filter(|(_, set)| !set.is_empty())
        .map(|(op, set)| (op, set.iter().cloned().collect()))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_replay_the_net_state() {
        let mut topics = Topics::default();
        topics.apply(Op::Subscribe, &["a/#", "b", "c"]);
        topics.apply(Op::Unsubscribe, &["b"]);
        topics.apply(Op::Exclude, &["a/secret", "a/x"]);
        topics.apply(Op::Unexclude, &["a/x"]);
        assert_eq!(
            topics.replay(),
            [
                (Op::Subscribe, vec!["a/#".to_owned(), "c".to_owned()]),
                (Op::Exclude, vec!["a/secret".to_owned()]),
            ]
        );
        topics.apply(Op::Unsubscribe, &["a/#", "c"]);
        topics.apply(Op::Unexclude, &["a/secret"]);
        assert!(topics.replay().is_empty());
    }
}
