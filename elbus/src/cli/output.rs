//! Where results and status lines go: results to stdout in the chosen [`Style`], status
//! (ready lines, progress) and errors to stderr, and frames printed as `listen` shows them.

use std::io::{IsTerminal, Write};

use serde_json::Value as Json;

use super::error::CliError;
use super::render::PayloadView;
use crate::{Frame, FrameKind};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Labelled, pretty-printed, tables.
    Human,
    /// `-s`: one-line JSON, plain text, raw bytes.
    Compact,
    /// `--json`: JSON documents only.
    Json,
}

/// The printer of one command run.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    style: Style,
    silent: bool,
}

impl Output {
    /// A printer in `style`; `silent` drops status lines.
    pub fn new(style: Style, silent: bool) -> Self {
        Output { style, silent }
    }

    /// The result style.
    pub fn style(&self) -> Style {
        self.style
    }

    /// Whether status lines and progress may be shown on stderr: not with `-s`, and progress
    /// only on a terminal (callers check [`stderr_is_terminal`](Self::stderr_is_terminal)).
    pub fn status_enabled(&self) -> bool {
        !self.silent
    }

    /// Whether stderr is a terminal (progress bars only make sense there).
    pub fn stderr_is_terminal(&self) -> bool {
        std::io::stderr().is_terminal()
    }

    /// Writes raw bytes to stdout and flushes, so a reader sees each result at once.
    pub fn bytes(&self, bytes: &[u8]) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(bytes)
            .and_then(|()| stdout.flush())
            .map_err(|err| CliError::io("writing the output", &err))
    }

    /// Writes a line to stdout.
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        let mut buf = Vec::with_capacity(text.len() + 1);
        buf.extend_from_slice(text.as_bytes());
        buf.push(b'\n');
        self.bytes(&buf)
    }

    /// Writes a JSON document: pretty for one result, `compact` for one of a stream.
    pub fn json(&self, value: &Json, compact: bool) -> Result<(), CliError> {
        let text = if compact {
            value.to_string()
        } else {
            super::render::pretty(value)
        };
        self.line(&text)
    }

    /// The result of a command that only succeeds or fails: `OK`, or `{"ok": true}`.
    pub fn ok(&self) -> Result<(), CliError> {
        match self.style {
            Style::Json => self.json(&serde_json::json!({ "ok": true }), false),
            Style::Human | Style::Compact => self.line("OK"),
        }
    }

    /// A payload as a command's whole result (`rpc call`, `broker test`).
    pub fn payload(&self, payload: &[u8]) -> Result<(), CliError> {
        let view = PayloadView::of(payload);
        match self.style {
            Style::Human => self.line(&view.human()),
            Style::Compact => {
                let mut bytes = view.compact();
                bytes.push(b'\n');
                self.bytes(&bytes)
            }
            Style::Json => self.json(&view.to_json(), false),
        }
    }

    /// A frame received by `listen` (and frames received by `rpc listen`):
    ///
    /// ```text
    /// Publish from cli.vm.1 (cli.vm.1)
    /// topic: x/a
    /// JSON:
    /// {
    ///   "a": 1
    /// }
    /// ----
    /// ```
    ///
    /// With `--json`, one line `{"kind": …, "sender": …, "primary_sender": …, "topic": …,
    /// "realtime": …, "payload": {"format": …, "value": …}}`.
    pub fn frame(&self, frame: &Frame) -> Result<(), CliError> {
        let kind = match frame.kind() {
            FrameKind::Publish => "Publish",
            FrameKind::Broadcast => "Broadcast",
            FrameKind::Message => "Message",
            FrameKind::Nop | FrameKind::Ack => "Frame",
        };
        let view = PayloadView::of(frame.payload());
        if self.style == Style::Json {
            let doc = serde_json::json!({
                "kind": kind.to_ascii_lowercase(),
                "sender": frame.sender(),
                "primary_sender": frame.primary_sender(),
                "topic": frame.topic(),
                "realtime": frame.is_realtime(),
                "payload": view.to_json(),
            });
            return self.json(&doc, true);
        }
        let mut text = format!(
            "{kind} from {} ({})\n",
            frame.sender(),
            frame.primary_sender()
        )
        .into_bytes();
        if let Some(topic) = frame.topic() {
            text.extend_from_slice(format!("topic: {topic}\n").as_bytes());
        }
        self.event_body(&mut text, &view);
        self.bytes(&text)
    }

    /// An RPC request or notification received by `rpc listen`.
    pub fn rpc_event(
        &self,
        what: &str,
        method: Option<&str>,
        sender: &str,
        primary_sender: &str,
        payload: &[u8],
    ) -> Result<(), CliError> {
        let view = PayloadView::of(payload);
        if self.style == Style::Json {
            let doc = serde_json::json!({
                "kind": what,
                "method": method,
                "sender": sender,
                "primary_sender": primary_sender,
                "payload": view.to_json(),
            });
            return self.json(&doc, true);
        }
        let mut text = match what {
            "call" => "Incoming RPC call\n".to_owned(),
            _ => "Incoming RPC notification\n".to_owned(),
        };
        if let Some(method) = method {
            text.push_str(&format!("method: {method}\n"));
        }
        text.push_str(&format!("from {sender} ({primary_sender})\n"));
        let mut text = text.into_bytes();
        self.event_body(&mut text, &view);
        self.bytes(&text)
    }

    /// The payload part of a printed event and its `----` separator.
    fn event_body(&self, text: &mut Vec<u8>, view: &PayloadView<'_>) {
        match self.style {
            Style::Compact => text.extend_from_slice(&view.compact()),
            Style::Human | Style::Json => text.extend_from_slice(view.human().as_bytes()),
        }
        text.extend_from_slice(b"\n----\n");
    }

    /// A status line on stderr (not a result), unless silent.
    pub fn status(&self, text: &str) {
        if !self.silent {
            // A failing stderr has nowhere to report to.
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}

/// Reports a failed command: one line on stderr.
pub fn report(err: &CliError) {
    let _ = writeln!(std::io::stderr(), "elbus: error: {}", err.message());
}
