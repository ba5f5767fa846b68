//! The metrics endpoint of an `elbusd` started with `--metrics`: where it listens (from the
//! line `elbusd` logs), raw HTTP exchanges with it, and scrapes parsed by PyPI
//! `prometheus-client` (`tests/interop/metrics_scrape.py`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::broker::Broker;
use crate::python;
use crate::wait::WAIT;

/// What `elbusd` logs once the endpoint is bound, followed by the address.
pub const LISTENING: &str = "metrics endpoint listening on ";

/// Failure bound of one scrape script run.
const SCRIPT_BOUND: Duration = Duration::from_secs(60);

/// The endpoint address `broker` logged.
///
/// # Panics
///
/// If the broker did not log it (it was not started with `--metrics`).
pub fn endpoint(broker: &Broker) -> SocketAddr {
    broker.wait_for_log(LISTENING, 1);
    let log = broker.log();
    let rest = &log[log.find(LISTENING).expect("the line is there") + LISTENING.len()..];
    let addr = rest.split_whitespace().next().unwrap_or_default();
    addr.parse()
        .unwrap_or_else(|e| panic!("bad metrics address {addr:?} in the log: {e}\n{log}"))
}

/// One raw HTTP reply: its status line, header lines and body.
#[derive(Debug)]
pub struct HttpReply {
    /// `HTTP/1.1 200 OK`.
    pub status: String,
    /// The header lines, as sent.
    pub headers: Vec<String>,
    /// The body.
    pub body: String,
}

/// Sends `request` (raw bytes, sent in full) to `addr` and reads the reply until the endpoint
/// closes the connection.
///
/// # Panics
///
/// If the connection fails, or no complete reply arrives within [`WAIT`].
pub fn exchange(addr: SocketAddr, request: &[u8]) -> HttpReply {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    stream.set_write_timeout(Some(WAIT)).expect("write timeout");
    stream.write_all(request).expect("send the request");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .expect("the reply, then the end of the connection");
    let reply = String::from_utf8(reply).expect("a UTF-8 reply");
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of the reply head in {reply:?}"));
    let mut lines = head.split("\r\n").map(str::to_owned);
    HttpReply {
        status: lines.next().unwrap_or_default(),
        headers: lines.collect(),
        body: body.to_owned(),
    }
}

/// `GET path` as a scraper sends it.
pub fn get(addr: SocketAddr, path: &str) -> HttpReply {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    )
}

/// A scrape as PyPI `prometheus-client` parsed it.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// `families` of the script's JSON: name → `{type, samples}`.
    pub families: serde_json::Map<String, Value>,
}

impl Scrape {
    /// Scrapes `http://ADDR/metrics` through the Python parser.
    ///
    /// # Panics
    ///
    /// If the script fails (a reply it cannot parse, a broken convention).
    pub fn take(addr: SocketAddr) -> Scrape {
        let url = format!("http://{addr}/metrics");
        let run = python::run_script(&python::script("metrics_scrape.py"), &[&url], SCRIPT_BOUND);
        assert!(run.success(), "the scrape failed:\n{run}");
        let parsed: Value = serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("the scrape printed no JSON ({e}):\n{run}"));
        let families = parsed["families"]
            .as_object()
            .cloned()
            .expect("families in the scrape");
        Scrape { families }
    }

    /// Whether the family `name` (without `_total`) is there.
    pub fn has(&self, family: &str) -> bool {
        self.families.contains_key(family)
    }

    /// The type of the family `name` (`counter`, `gauge`).
    pub fn kind(&self, family: &str) -> &str {
        self.families[family]["type"].as_str().unwrap_or_default()
    }

    /// The value of the sample `sample` whose labels are exactly `labels`.
    ///
    /// # Panics
    ///
    /// If there is no such sample.
    pub fn value(&self, sample: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(sample, labels).unwrap_or_else(|| {
            panic!(
                "no sample {sample}{labels:?} in the scrape: {:#?}",
                self.families.keys()
            )
        })
    }

    /// The value of the sample `sample` whose labels are exactly `labels`, if there is one.
    pub fn find(&self, sample: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.families
            .values()
            .flat_map(|family| family["samples"].as_array().into_iter().flatten())
            .find(|s| {
                let Some(have) = s["labels"].as_object() else {
                    return false;
                };
                s["name"] == sample
                    && have.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| have.get(*k) == Some(&(*v).into()))
            })
            .and_then(|s| s["value"].as_f64())
    }

    /// [`Scrape::value`] minus the same sample in `before` (0 where it was absent).
    pub fn delta(&self, before: &Scrape, sample: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(sample, labels) - before.find(sample, labels).unwrap_or(0.0)
    }
}

/// Runs `binary` with `args` to its exit (bounded by [`WAIT`]): the status, stdout and stderr.
///
/// # Panics
///
/// If it keeps running past the bound.
pub fn run_to_exit(binary: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{} {args:?} kept running", binary.display()))
        .expect("the output");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
