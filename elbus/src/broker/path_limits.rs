//! The size bounds of names, masks, topics and patterns, and the characters a name may hold.

/// Bounds of a name or mask (`.`-separated) or a topic or pattern (`/`-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLimits {
    /// Most bytes (UTF-8).
    pub max_bytes: usize,
    /// Most parts (separators + 1).
    pub max_parts: usize,
}

impl PathLimits {
    /// Default byte bound of names, masks, topics and patterns: 1 KiB, four times the sender
    /// buffer the original clients pre-size (256 bytes) and far above a `group.subgroup.client`
    /// name or an MQTT-style topic.
    pub const DEFAULT_MAX_BYTES: usize = 1024;
    /// Default part bound: 128 parts, the default topic depth of common MQTT brokers (EMQX's
    /// `max_topic_levels`).
    pub const DEFAULT_MAX_PARTS: usize = 128;

    /// Why `text` (parts separated by `sep`) exceeds these bounds or holds a NUL, if it does.
    pub(crate) fn violation(&self, text: &str, sep: char) -> Option<String> {
        if text.len() > self.max_bytes {
            return Some(format!(
                "{} bytes, more than the limit of {}",
                text.len(),
                self.max_bytes
            ));
        }
        let parts = text.matches(sep).count() + 1;
        if parts > self.max_parts {
            return Some(format!(
                "{parts} parts, more than the limit of {}",
                self.max_parts
            ));
        }
        // Never the case for what arrives over a socket (frames are split at NUL), but an
        // in-process client could otherwise put a NUL into a delivered frame's topic.
        text.contains('\0').then(|| "a NUL byte".to_owned())
    }
}

impl Default for PathLimits {
    fn default() -> Self {
        PathLimits {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_parts: Self::DEFAULT_MAX_PARTS,
        }
    }
}

/// Whether `c` may appear in a client name: no control characters (NUL, newline, escape, C1),
/// no line or paragraph separators and no invisible formatting characters (zero-width, bidi
/// overrides, BOM, tags), which would make a name show as another one.
pub(super) fn name_char_allowed(c: char) -> bool {
    !(c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_limits() {
        let limits = PathLimits {
            max_bytes: 8,
            max_parts: 3,
        };
        assert_eq!(limits.violation("a/b/c", '/'), None);
        assert_eq!(limits.violation("", '/'), None);
        assert!(limits.violation("a/b/c/d", '/').is_some());
        assert_eq!(limits.violation("a/b/c/d", '.'), None);
        assert!(limits.violation("123456789", '/').is_some());
        assert!(limits.violation("a\0b", '/').is_some());
    }

    #[test]
    fn name_characters() {
        for c in [
            '\0', '\n', '\r', '\x1b', '\u{7f}', '\u{85}', '\u{200B}', '\u{202E}', '\u{FEFF}',
            '\u{2028}',
        ] {
            assert!(!name_char_allowed(c), "{c:?}");
        }
        for c in ['a', '.', '%', '*', '?', ' ', '/', 'é', 'Ж', '中', '😀'] {
            assert!(name_char_allowed(c), "{c:?}");
        }
    }
}
