//! A well-behaved client that keeps round-tripping through a broker while a hostile test attacks
//! it, and reports whether the attack ever held it up.
//!
//! Each round sends a QoS-Processed message to itself and waits for it, then calls the `.broker`
//! method `test` and waits for the reply, so both the routing path and the broker's own API are
//! exercised. A hostile test starts one [`Bystander`] before the attack, lets it complete a few
//! rounds while the attack runs ([`Bystander::wait_rounds`]) and ends with
//! [`Bystander::finish`], which fails the test if any round failed or took longer than
//! [`ROUND_TRIP_BOUND`].
//!
//! The bound is deliberately generous: it separates "the broker carried on" from "one client
//! stalled everyone for seconds", not fast from slow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use elbus::ipc::{Client, Config};
use elbus::{AsyncClient, QoS};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::raw::WAIT;

/// Longest a bystander's round (a message to itself, then a `.broker` `test` call) may take
/// while an attack runs.
pub const ROUND_TRIP_BOUND: Duration = Duration::from_secs(5);

/// The `.broker` RPC call `test` with call id 1 and empty params (protocol: `01`, the call id,
/// the method, NUL, the params).
const BROKER_TEST_CALL: &[u8] = b"\x01\x01\x00\x00\x00test\x00";

/// A running bystander; see the module docs.
#[derive(Debug)]
pub struct Bystander {
    name: String,
    rounds: Arc<AtomicU64>,
    progress: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<Duration, String>>,
}

/// What a bystander saw, returned by [`Bystander::finish`].
#[derive(Debug, Clone, Copy)]
pub struct BystanderReport {
    /// Rounds completed.
    pub rounds: u64,
    /// The slowest round.
    pub slowest: Duration,
}

impl Bystander {
    /// Connects `name` to the broker at `path` (a UNIX socket path or `HOST:PORT`) and starts
    /// round-tripping at once.
    pub async fn start(path: &str, name: &str) -> Self {
        let config = Config::new(path, name)
            .timeout(WAIT)
            .ping_interval(Some(Duration::from_millis(200)));
        let client = Client::connect(&config)
            .await
            .unwrap_or_else(|err| panic!("bystander {name} connects to {path}: {err}"));
        let rounds = Arc::new(AtomicU64::new(0));
        let progress = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(
            client,
            Arc::clone(&rounds),
            Arc::clone(&progress),
            stopped,
        ));
        Bystander {
            name: name.to_owned(),
            rounds,
            progress,
            stop,
            task,
        }
    }

    /// Rounds completed so far.
    pub fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::SeqCst)
    }

    /// Waits until `more` rounds beyond those already done have completed (bounded by
    /// [`WAIT`]; a bystander that stopped making progress fails the test here).
    pub async fn wait_rounds(&self, more: u64) {
        let target = self.rounds() + more;
        let waited = tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.progress.notified();
                if self.rounds() >= target || self.task.is_finished() {
                    return;
                }
                notified.await;
            }
        })
        .await;
        assert!(
            waited.is_ok() && self.rounds() >= target,
            "bystander {} made no progress: {} of {target} rounds within {WAIT:?}",
            self.name,
            self.rounds()
        );
    }

    /// Stops the bystander and asserts that every round succeeded within
    /// [`ROUND_TRIP_BOUND`] and that at least one round completed.
    pub async fn finish(self) -> BystanderReport {
        let _ = self.stop.send(true);
        let slowest = match self.task.await {
            Ok(Ok(slowest)) => slowest,
            Ok(Err(failure)) => panic!("bystander {}: {failure}", self.name),
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        };
        let report = BystanderReport {
            rounds: self.rounds.load(Ordering::SeqCst),
            slowest,
        };
        eprintln!(
            "bystander {}: {} rounds, slowest {:?}",
            self.name, report.rounds, report.slowest
        );
        assert!(
            report.rounds > 0,
            "bystander {} never completed a round",
            self.name
        );
        report
    }
}

/// The round loop: returns the slowest round, or why a round failed.
async fn run(
    client: Client,
    rounds: Arc<AtomicU64>,
    progress: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) -> Result<Duration, String> {
    let mut events = client
        .take_event_channel()
        .ok_or("the bystander's event channel was taken")?;
    let name = client.name().to_owned();
    let mut slowest = Duration::ZERO;
    let mut round = 0u64;
    while !*stopped.borrow_and_update() {
        round += 1;
        let started = Instant::now();
        let payload = format!("bystander round {round}");
        let one_round = async {
            client
                .send(&name, payload.as_bytes(), QoS::Processed)
                .await
                .map_err(|err| format!("send: {err}"))?
                .await
                .map_err(|err| format!("message ACK: {err}"))?;
            wait_frame(&mut events, |frame| frame.payload() == payload.as_bytes()).await?;
            client
                .send(".broker", BROKER_TEST_CALL, QoS::Processed)
                .await
                .map_err(|err| format!(".broker test: {err}"))?
                .await
                .map_err(|err| format!(".broker test ACK: {err}"))?;
            wait_frame(&mut events, |frame| {
                frame.sender() == ".broker"
                    && frame.topic().is_none()
                    && frame.payload().starts_with(&[0x11, 1, 0, 0, 0])
            })
            .await
        };
        match tokio::time::timeout(ROUND_TRIP_BOUND, one_round).await {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => return Err(format!("round {round} failed: {failure}")),
            Err(_) => {
                return Err(format!(
                    "round {round} took longer than {ROUND_TRIP_BOUND:?}"
                ))
            }
        }
        slowest = slowest.max(started.elapsed());
        rounds.fetch_add(1, Ordering::SeqCst);
        progress.notify_waiters();
    }
    client.disconnect().await;
    Ok(slowest)
}

/// Waits for the frame `wanted` accepts, skipping others (announcements, a late reply).
async fn wait_frame(
    events: &mut elbus::EventChannel,
    wanted: impl Fn(&elbus::Frame) -> bool,
) -> Result<(), String> {
    loop {
        match events.recv().await {
            Some(frame) if wanted(&frame) => return Ok(()),
            Some(_) => continue,
            None => return Err("disconnected".into()),
        }
    }
}
