//! Topic templates of event variants (`calc/added/{room}`): filling a key segment (refusing
//! values that would break the topic), and matching a received topic against a template or a
//! subscription pattern.

use std::fmt::Display;

use super::EventError;

/// Formats the value of a key field as one topic segment, refusing an empty value and values
/// holding `/`, `+`, `#` or NUL, which would change which subscribers match.
pub fn key_segment(
    variant: &'static str,
    field: &'static str,
    value: &dyn Display,
) -> Result<String, EventError> {
    let text = value.to_string();
    if text.is_empty() || text.contains(['/', '+', '#', '\0']) {
        return Err(EventError::InvalidKey {
            variant,
            field,
            value: text,
        });
    }
    Ok(text)
}

/// Whether `topic` is an instance of `template`: the same number of segments, literal segments
/// equal, each `{key}` segment any non-empty segment.
pub fn topic_matches(template: &str, topic: &str) -> bool {
    let mut topic = topic.split('/');
    for segment in template.split('/') {
        match topic.next() {
            Some(t) if segment.starts_with('{') && segment.ends_with('}') => {
                if t.is_empty() {
                    return false;
                }
            }
            Some(t) if t == segment => {}
            _ => return false,
        }
    }
    topic.next().is_none()
}

/// Whether `topic` matches a subscription `pattern` with MQTT wildcards: `+` is one segment,
/// a final `#` any number of them.
pub(crate) fn pattern_matches(pattern: &str, topic: &str) -> bool {
    let mut topic = topic.split('/');
    for segment in pattern.split('/') {
        if segment == "#" {
            return true;
        }
        match topic.next() {
            Some(_) if segment == "+" => {}
            Some(t) if t == segment => {}
            _ => return false,
        }
    }
    topic.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_break_topics_are_refused() {
        assert_eq!(key_segment("A", "room", &"kitchen").unwrap(), "kitchen");
        assert_eq!(key_segment("A", "n", &7).unwrap(), "7");
        for bad in ["", "a/b", "+", "x#", "nul\0"] {
            assert!(matches!(
                key_segment("A", "room", &bad),
                Err(EventError::InvalidKey { .. })
            ));
        }
    }

    #[test]
    fn templates_and_patterns_match_whole_segments() {
        assert!(topic_matches("calc/added/{room}", "calc/added/k"));
        assert!(!topic_matches("calc/added/{room}", "calc/added"));
        assert!(!topic_matches("calc/added/{room}", "calc/added/k/x"));
        assert!(!topic_matches("calc/added/{room}", "calc/added/"));
        assert!(topic_matches("calc/reset", "calc/reset"));
        assert!(!topic_matches("calc/reset", "calc/resets"));
        assert!(pattern_matches("calc/added/+", "calc/added/k"));
        assert!(!pattern_matches("calc/added/+", "calc/added/k/x"));
        assert!(pattern_matches("calc/#", "calc/added/k"));
        assert!(!pattern_matches("calc/added", "calc/added/k"));
    }
}
