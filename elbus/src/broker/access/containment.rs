//! Pattern containment: whether a rule's mask or topic pattern covers every name or topic a
//! client's own pattern can match.

#[cfg(doc)]
use crate::matching::{mask_matches, topic_matches};

/// Whether the pattern `rule` contains the pattern `pattern`: every part sequence `pattern`
/// matches is matched by `rule`, in the syntax whose parts are split on `separator`, where
/// `one` matches exactly one part and `rest` one or more remaining parts (ending the pattern).
///
/// One pass over both, part by part: a `rest` in the rule takes whatever the pattern has left
/// (at least one part); a `rest` in the pattern (any number of parts) fits only under a `rest`
/// of the rule; a `one` in the pattern (any part) fits only under a `one`; a literal fits
/// under `one` or the same literal. Cost: linear in the shorter pattern.
fn contains(rule: &str, pattern: &str, separator: char, one: &str, rest: &str) -> bool {
    let mut rule_parts = rule.split(separator);
    let mut parts = pattern.split(separator);
    loop {
        match (rule_parts.next(), parts.next()) {
            (None, None) => return true,
            (Some(r), part) if r == rest => return part.is_some(),
            (Some(_), Some(p)) if p == rest => return false,
            (Some(r), Some(p)) if r == one || r == p => {}
            _ => return false,
        }
    }
}

/// Whether the broadcast mask `rule` contains the mask `mask`: every client name `mask` matches
/// (by [`mask_matches`]) is matched by `rule`. `svc.*` contains `svc.*`, `svc.?.x` and `svc.a`;
/// `?.alerts` does not contain `*.alerts`, and `svc.?` does not contain `svc.*`.
pub fn mask_contains(rule: &str, mask: &str) -> bool {
    contains(rule, mask, '.', "?", "*")
}

/// Whether the topic pattern `rule` contains the pattern `pattern`: every topic `pattern`
/// matches (by [`topic_matches`]) is matched by `rule`. `news/#` contains `news/#` and
/// `news/+/x`; `+/public` does not contain `#/public` (which means `#`), and `x/#` does not
/// contain `x` (`x/#` does not match the topic `x`).
pub fn topic_contains(rule: &str, pattern: &str) -> bool {
    contains(rule, pattern, '/', "+", "#")
}
