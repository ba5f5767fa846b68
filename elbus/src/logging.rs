//! Log lines that clients can neither forge nor flood: [`Escaped`] writes untrusted text (a
//! client's name, topic, mask or frame contents) with its control characters escaped, so one
//! event stays one line, and [`LogLimiter`] caps how many lines one log site writes per second.
//!
//! Every broker log line a client can trigger goes through a limiter (queue drops, access
//! denials, client errors, forced disconnects and evictions, `.broker` RPC warnings, FIFO
//! lines), and every piece of client text in it through [`Escaped`]. `elbusd`'s formatter escapes
//! the whole event once more, so no call site can forget.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Whether `c` must be escaped in a log line: control characters (C0, DEL, C1: newlines,
/// carriage returns, terminal escapes, NUL) and the Unicode line and paragraph separators.
fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Writes `text` to `out` with every character of `needs_escape` written as `\n`, `\r`,
/// `\t` or `\u{XX}` instead; everything else (backslashes included) is written as it is.
pub fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    let mut clean_from = 0;
    for (at, c) in text.char_indices() {
        if !needs_escape(c) {
            continue;
        }
        out.write_str(&text[clean_from..at])?;
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            other => write!(out, "\\u{{{:x}}}", u32::from(other))?,
        }
        clean_from = at + c.len_utf8();
    }
    out.write_str(&text[clean_from..])
}

/// A [`fmt::Write`] that passes everything written to it through [`write_escaped`].
pub struct EscapingWriter<W>(pub W);

impl<W: fmt::Write> fmt::Write for EscapingWriter<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(&mut self.0, s)
    }
}

/// Displays its value with control characters escaped ([`write_escaped`]): wrap every string
/// a client chose before it goes into a log line, so `"app\nWARN forged"` cannot start a line
/// of its own.
///
/// ```
/// use elbus::logging::Escaped;
/// assert_eq!(Escaped("a\nb\u{1b}[2J").to_string(), "a\\nb\\u{1b}[2J");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(EscapingWriter(f), "{}", self.0)
    }
}

/// Lets through at most a fixed number of lines per second from one log site, so a client
/// that triggers it in a loop cannot flood the log; the number suppressed is reported, with
/// what they were, before the next line let through.
#[derive(Debug)]
pub struct LogLimiter {
    /// What the site logs, for the suppressed-lines report (`"queue drops"`).
    what: &'static str,
    per_second: u64,
    window: AtomicU64,
    in_window: AtomicU64,
    suppressed: AtomicU64,
    epoch: Instant,
}

impl LogLimiter {
    /// Lines per second every broker log site that a client can trigger lets through.
    pub const DEFAULT_PER_SECOND: u64 = 10;

    /// A limiter of `per_second` lines a second for the site that logs `what`.
    pub fn new(what: &'static str, per_second: u64) -> Self {
        LogLimiter {
            what,
            per_second,
            window: AtomicU64::new(0),
            in_window: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// A limiter of [`LogLimiter::DEFAULT_PER_SECOND`] lines a second.
    pub fn with_default_rate(what: &'static str) -> Self {
        Self::new(what, Self::DEFAULT_PER_SECOND)
    }

    /// Whether one more line may be logged now (first logging how many were suppressed since
    /// the last one let through).
    pub fn allow(&self) -> bool {
        let now = self.epoch.elapsed().as_secs();
        if self.window.swap(now, Ordering::Relaxed) != now {
            self.in_window.store(0, Ordering::Relaxed);
        }
        if self.in_window.fetch_add(1, Ordering::Relaxed) < self.per_second {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            if suppressed > 0 {
                tracing::warn!("{suppressed} log lines suppressed ({})", self.what);
            }
            true
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_nothing_else() {
        let cases = [
            ("plain.name", "plain.name"),
            ("a\nWARN forged", "a\\nWARN forged"),
            ("cr\r\ttab", "cr\\r\\ttab"),
            ("nul\0x", "nul\\u{0}x"),
            ("esc\u{1b}[31m", "esc\\u{1b}[31m"),
            ("del\u{7f} c1\u{85}", "del\\u{7f} c1\\u{85}"),
            ("sep\u{2028}\u{2029}", "sep\\u{2028}\\u{2029}"),
            ("back\\slash é ✓", "back\\slash é ✓"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(Escaped(raw).to_string(), want, "{raw:?}");
            // Escaping clean text changes nothing, so a second pass is harmless.
            assert_eq!(Escaped(want).to_string(), want);
        }
    }

    #[test]
    fn the_limiter_counts_what_it_suppresses() {
        let limiter = LogLimiter::new("test lines", 3);
        let allowed = (0..100).filter(|_| limiter.allow()).count();
        // Within one second three pass; the window may roll over once during the loop.
        assert!((3..=6).contains(&allowed), "{allowed}");
        let suppressed = limiter.suppressed.load(Ordering::Relaxed);
        assert!(
            suppressed > 0 && suppressed + allowed as u64 <= 100,
            "{suppressed}"
        );
    }
}
