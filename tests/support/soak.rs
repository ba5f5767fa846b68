//! The soak workload shared by `examples/soak.rs` (any duration, by hand) and the 60-second CI
//! test `tests/soak.rs`: request/reply calls, pub/sub, broadcasts and connection churn against one
//! broker, with the broker's memory sampled every second.
//!
//! Every frame carries its sender's sequence number, so each receiver can tell a lost frame (a gap)
//! from a late one. A loss the broker did not report to the sender (an `OK` ACK for a frame that
//! never arrived) is *unexplained*; a refused frame (`77` not delivered, `71` not registered, a
//! timeout) is counted under its reason.
//!
//! Publishers and the broadcaster keep at most [`WINDOW`] frames ahead of their slowest receiver
//! (credit-based flow control, awaited, never slept), so a steady state is measured rather than a
//! queue that grows until the broker's limits strike.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use elbus::ipc::{Client, Config};
use elbus::{AsyncClient, Error, QoS};
use tokio::sync::watch;

use crate::procstat;

/// Most frames a publisher or the broadcaster may be ahead of its slowest receiver.
pub const WINDOW: u64 = 512;
/// The longest a request waits for its reply, or a sender for credit, before it is counted as a
/// stall (a failure bound; nothing is timed).
const STALL: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// The broker's client path (UNIX socket or `host:port`).
    pub path: String,
    /// The broker's process id, for memory samples (`None`: not sampled).
    pub broker_pid: Option<u32>,
    /// How long to run.
    pub duration: Duration,
    /// Print a progress line this often (`None`: quiet).
    pub report_every: Option<Duration>,
    /// Request/reply callers.
    pub callers: usize,
    /// Publishers.
    pub publishers: usize,
    /// Subscribers (each also receives the broadcasts).
    pub subscribers: usize,
    /// Payload bytes of each frame.
    pub payload: usize,
}

impl SoakOptions {
    /// A modest mix for a 2-core machine: 4 callers, 2 publishers, 3 subscribers, 256-byte
    /// payloads, one broadcaster and one churning connection loop.
    pub fn new(path: &str, broker_pid: Option<u32>, duration: Duration) -> Self {
        SoakOptions {
            path: path.to_owned(),
            broker_pid,
            duration,
            report_every: None,
            callers: 4,
            publishers: 2,
            subscribers: 3,
            payload: 256,
        }
    }
}

/// One memory sample of the broker.
#[derive(Debug, Clone, Copy)]
pub struct RssSample {
    /// Seconds since the start.
    pub at_secs: f64,
    /// `VmRSS` in KiB.
    pub rss_kib: u64,
}

/// What a soak run saw.
#[derive(Debug, Default, Clone)]
pub struct SoakReport {
    /// How long it ran.
    pub elapsed: Duration,
    /// Completed request/reply calls.
    pub calls: u64,
    /// Publications ACKed OK.
    pub published: u64,
    /// Publications received (all subscribers together).
    pub publications_received: u64,
    /// Broadcasts ACKed OK.
    pub broadcasts: u64,
    /// Broadcasts received (all subscribers together).
    pub broadcasts_received: u64,
    /// Connections opened and closed by the churn loop.
    pub churned: u64,
    /// Refused or failed operations by reason (`not delivered`, `timeout`, …): explained losses.
    pub refused: BTreeMap<String, u64>,
    /// Frames ACKed OK that a receiver never got (sequence gaps), and replies that never came.
    pub unexplained: u64,
    /// Waits for a reply or for flow-control credit that hit the stall bound.
    pub stalls: u64,
    /// The broker's memory, one sample a second.
    pub rss: Vec<RssSample>,
}

impl SoakReport {
    /// Mean `VmRSS` (KiB) of the samples between `from` and `to` seconds.
    pub fn mean_rss(&self, from: f64, to: f64) -> Option<f64> {
        let window: Vec<u64> = self
            .rss
            .iter()
            .filter(|s| s.at_secs >= from && s.at_secs < to)
            .map(|s| s.rss_kib)
            .collect();
        (!window.is_empty()).then(|| window.iter().sum::<u64>() as f64 / window.len() as f64)
    }

    /// Mean RSS of the first and the second half of the run, after `warmup` seconds.
    pub fn rss_halves(&self, warmup: f64) -> Option<(f64, f64)> {
        let end = self.elapsed.as_secs_f64();
        let mid = warmup + (end - warmup) / 2.0;
        Some((self.mean_rss(warmup, mid)?, self.mean_rss(mid, end + 1.0)?))
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(0.001);
        writeln!(f, "soak: {:.0} s", secs)?;
        writeln!(
            f,
            "  calls        {:>10}  ({:.0}/s)",
            self.calls,
            self.calls as f64 / secs
        )?;
        writeln!(
            f,
            "  published    {:>10}  ({:.0}/s), received {} ({:.0}/s)",
            self.published,
            self.published as f64 / secs,
            self.publications_received,
            self.publications_received as f64 / secs
        )?;
        writeln!(
            f,
            "  broadcasts   {:>10}  ({:.0}/s), received {}",
            self.broadcasts,
            self.broadcasts as f64 / secs,
            self.broadcasts_received
        )?;
        writeln!(
            f,
            "  churned      {:>10}  ({:.0}/s)",
            self.churned,
            self.churned as f64 / secs
        )?;
        writeln!(f, "  refused      {:?}", self.refused)?;
        writeln!(f, "  unexplained  {:>10}", self.unexplained)?;
        writeln!(f, "  stalls       {:>10}", self.stalls)?;
        if let (Some(first), Some(last)) = (self.rss.first(), self.rss.last()) {
            let peak = self.rss.iter().map(|s| s.rss_kib).max().unwrap_or(0);
            write!(
                f,
                "  broker RSS   first {:.1} MiB, last {:.1} MiB, peak {:.1} MiB",
                first.rss_kib as f64 / 1024.0,
                last.rss_kib as f64 / 1024.0,
                peak as f64 / 1024.0
            )?;
            if let Some((a, b)) = self.rss_halves(5.0) {
                write!(
                    f,
                    "; mean {:.1} MiB (first half) vs {:.1} MiB (second half)",
                    a / 1024.0,
                    b / 1024.0
                )?;
            }
        }
        Ok(())
    }
}

/// Counters shared by the workload tasks.
#[derive(Default)]
struct Tally {
    calls: AtomicU64,
    published: AtomicU64,
    publications_received: AtomicU64,
    broadcasts: AtomicU64,
    broadcasts_received: AtomicU64,
    churned: AtomicU64,
    unexplained: AtomicU64,
    stalls: AtomicU64,
    refused: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn refuse(&self, what: &str, err: &Error) {
        let reason = format!("{what}: {}", err.kind().as_str());
        *self
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn config(path: &str, name: &str) -> Config {
    Config::new(path, name)
        .timeout(STALL)
        .ping_interval(Some(Duration::from_secs(1)))
}

async fn connect(path: &str, name: &str) -> Result<Client, Error> {
    Client::connect(&config(path, name)).await
}

/// A frame payload: the sequence number, then padding.
fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut data = seq.to_le_bytes().to_vec();
    data.resize(len.max(8), 0x5A);
    data
}

fn seq_of(data: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(..8)?.try_into().ok()?))
}

/// Sends `op` and awaits its ACK; returns whether it was OK, counting the reason otherwise.
async fn acked(
    tally: &Tally,
    what: &str,
    op: impl std::future::Future<Output = Result<elbus::OpConfirm, Error>>,
) -> bool {
    let result = match op.await {
        Ok(confirm) => confirm.await,
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => true,
        Err(err) => {
            tally.refuse(what, &err);
            false
        }
    }
}

/// Runs the workload for `options.duration` and reports.
///
/// # Errors
///
/// If the workload's own clients cannot connect at the start.
pub async fn run(options: &SoakOptions) -> Result<SoakReport, Error> {
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let path = options.path.as_str();
    let mut tasks = Vec::new();

    // Subscribers: each counts publications and broadcasts and reports its progress per sender,
    // which is the credit the senders wait for.
    let senders: Vec<String> = (0..options.publishers)
        .map(|i| format!("soak.pub.{i}"))
        .chain(std::iter::once("soak.bcast".to_owned()))
        .collect();
    let mut progress: HashMap<String, Vec<watch::Receiver<u64>>> = HashMap::new();
    for i in 0..options.subscribers {
        let client = connect(path, &format!("soak.sub.{i}")).await?;
        let mut events = client.take_event_channel().expect("fresh client");
        client.subscribe("soak/#", QoS::Processed).await?.await?;
        let mut seen: HashMap<String, (u64, watch::Sender<u64>)> = HashMap::new();
        for sender in &senders {
            let (tx, rx) = watch::channel(0);
            progress.entry(sender.clone()).or_default().push(rx);
            seen.insert(sender.clone(), (0, tx));
        }
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let _client = client;
            while let Some(frame) = events.recv().await {
                let Some((last, credit)) = seen.get_mut(frame.sender()) else {
                    continue;
                };
                let Some(seq) = seq_of(frame.payload()) else {
                    continue;
                };
                if seq > *last + 1 {
                    tally
                        .unexplained
                        .fetch_add(seq - *last - 1, Ordering::Relaxed);
                }
                *last = (*last).max(seq);
                credit.send_replace(*last);
                match frame.kind() {
                    elbus::FrameKind::Broadcast => Tally::count(&tally.broadcasts_received),
                    _ => Tally::count(&tally.publications_received),
                }
            }
        }));
    }

    // Publishers and the broadcaster: numbered frames, at most WINDOW ahead of every receiver.
    for sender in &senders {
        let client = connect(path, sender).await?;
        let credit = progress.remove(sender).unwrap_or_default();
        let (tally, stop, len) = (tally.clone(), stop.clone(), options.payload);
        let broadcast = sender == "soak.bcast";
        let topic = format!("soak/{sender}");
        tasks.push(tokio::spawn(async move {
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for rx in &credit {
                    let mut rx = rx.clone();
                    let floor = seq.saturating_sub(WINDOW);
                    let waited = tokio::time::timeout(STALL, rx.wait_for(|v| *v >= floor)).await;
                    if !matches!(waited, Ok(Ok(_))) {
                        Tally::count(&tally.stalls);
                    }
                }
                let data = payload(seq + 1, len);
                let ok = if broadcast {
                    acked(
                        &tally,
                        "broadcast",
                        client.send_broadcast("soak.sub.*", &data, QoS::Processed),
                    )
                    .await
                } else {
                    acked(
                        &tally,
                        "publish",
                        client.publish(&topic, &data, QoS::Processed),
                    )
                    .await
                };
                // A refused frame keeps its number: the receivers must not see a gap for it.
                if ok {
                    seq += 1;
                    Tally::count(if broadcast {
                        &tally.broadcasts
                    } else {
                        &tally.published
                    });
                }
            }
            client.disconnect().await;
        }));
    }

    // Request/reply: an echo service and callers that await each reply.
    let echo = connect(path, "soak.echo").await?;
    let mut echo_events = echo.take_event_channel().expect("fresh client");
    {
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(frame) = echo_events.recv().await {
                if frame.kind() == elbus::FrameKind::Message {
                    let _ = acked(
                        &tally,
                        "reply",
                        echo.send(frame.sender(), frame.payload(), QoS::Processed),
                    )
                    .await;
                }
            }
        }));
    }
    for i in 0..options.callers {
        let client = connect(path, &format!("soak.caller.{i}")).await?;
        let mut replies = client.take_event_channel().expect("fresh client");
        let (tally, stop, len) = (tally.clone(), stop.clone(), options.payload);
        tasks.push(tokio::spawn(async move {
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let request = payload(seq, len);
                if !acked(
                    &tally,
                    "call",
                    client.send("soak.echo", &request, QoS::Processed),
                )
                .await
                {
                    continue;
                }
                match tokio::time::timeout(STALL, replies.recv()).await {
                    Ok(Some(reply)) if seq_of(reply.payload()) == Some(seq) => {
                        Tally::count(&tally.calls)
                    }
                    Ok(Some(_)) => Tally::count(&tally.unexplained),
                    Ok(None) => break,
                    Err(_) => {
                        Tally::count(&tally.stalls);
                        Tally::count(&tally.unexplained);
                    }
                }
            }
            client.disconnect().await;
        }));
    }

    // Connection churn: connect, subscribe, send one message, disconnect; unique names.
    {
        let (tally, stop, path) = (tally.clone(), stop.clone(), options.path.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                match connect(&path, &format!("soak.churn.{n}")).await {
                    Ok(client) => {
                        let _ = acked(
                            &tally,
                            "churn",
                            client.subscribe("soak/churn", QoS::Processed),
                        )
                        .await;
                        let _ = acked(
                            &tally,
                            "churn",
                            client.send(client.name(), b"hello", QoS::Processed),
                        )
                        .await;
                        client.disconnect().await;
                        Tally::count(&tally.churned);
                    }
                    Err(err) => tally.refuse("churn connect", &err),
                }
            }
        }));
    }

    // The clock: memory samples and progress lines, until the duration is over.
    let mut rss = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut last_report = Instant::now();
    loop {
        ticker.tick().await;
        let at = started.elapsed();
        if let Some(pid) = options.broker_pid {
            rss.push(RssSample {
                at_secs: at.as_secs_f64(),
                rss_kib: procstat::memory(pid).rss_kib,
            });
        }
        if let Some(every) = options.report_every {
            if last_report.elapsed() >= every {
                last_report = Instant::now();
                eprintln!(
                    "[{:>6.0} s] calls {} published {} broadcasts {} churned {} unexplained {} rss {:?} KiB",
                    at.as_secs_f64(),
                    tally.calls.load(Ordering::Relaxed),
                    tally.published.load(Ordering::Relaxed),
                    tally.broadcasts.load(Ordering::Relaxed),
                    tally.churned.load(Ordering::Relaxed),
                    tally.unexplained.load(Ordering::Relaxed),
                    rss.last().map(|s| s.rss_kib),
                );
            }
        }
        if at >= options.duration {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    // The senders finish their current frame and disconnect; subscribers and the echo service
    // run until the broker or the process goes away, so they are simply aborted.
    for task in tasks {
        task.abort();
    }
    let report = SoakReport {
        elapsed,
        calls: tally.calls.load(Ordering::Relaxed),
        published: tally.published.load(Ordering::Relaxed),
        publications_received: tally.publications_received.load(Ordering::Relaxed),
        broadcasts: tally.broadcasts.load(Ordering::Relaxed),
        broadcasts_received: tally.broadcasts_received.load(Ordering::Relaxed),
        churned: tally.churned.load(Ordering::Relaxed),
        refused: tally
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        unexplained: tally.unexplained.load(Ordering::Relaxed),
        stalls: tally.stalls.load(Ordering::Relaxed),
        rss,
    };
    Ok(report)
}
