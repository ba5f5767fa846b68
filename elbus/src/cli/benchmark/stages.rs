//! The benchmark's client stages (`send…`, `send+recv…`) and the one-way latency stage, over
//! plain socket clients; each worker loop counts its errors instead of panicking.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Semaphore};

use super::progress::Progress;
use crate::cli::error::{CliError, Failure};
use crate::ipc::Client;
use crate::{AsyncClient, Error, ErrorKind, EventChannel, QoS};

/// Most payload bytes one worker has sent to itself and not yet received, in the
/// `send+recv` stages: 1 MiB, at least four messages. Without it a worker that writes faster
/// than it reads piles its backlog up in the broker, whose per-client and broker-wide byte
/// bounds (`elbusd --queue-bytes`, `--max-queued-bytes`) then disconnect it: at 64 KiB
/// payloads eight workers reach them within a second. With it the stage measures the
/// throughput the loop sustains, the same in every combination of client and broker.
pub const SELF_WINDOW_BYTES: usize = 1 << 20;

/// How a worker's sends are paced.
#[derive(Debug, Clone)]
enum Pace {
    /// To a target meant not to exist: a not-registered ACK is the expected answer.
    ToNull,
    /// To itself: one permit of `window` per message in flight, given back on arrival;
    /// `patience` is how long it waits for the next arrival before the rest count as errors.
    ToSelf {
        window: Arc<Semaphore>,
        patience: Duration,
    },
}

/// What the workers of one stage did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Iterations attempted.
    pub iters: u64,
    /// Iterations that failed.
    pub errors: u64,
    /// The first failure, reported after the results.
    pub first_error: Option<CliError>,
}

impl Outcome {
    /// Adds a worker's outcome.
    pub fn merge(&mut self, other: Outcome) {
        self.iters += other.iters;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Counts `count` failures, keeping the first error.
    pub fn fail(&mut self, count: u64, err: CliError) {
        self.errors += count;
        if self.first_error.is_none() {
            self.first_error = Some(err);
        }
    }
}

/// One benchmark client (`<name>-<w>`) and its incoming frames.
#[derive(Debug)]
pub struct Worker {
    /// The connection.
    pub client: Client,
    /// Its event channel, taken by a receiving task during `send+recv` stages.
    pub events: Option<EventChannel>,
    /// `<name>-<w>-null`: a name nobody has, for the send-to-nowhere stages.
    pub null_target: String,
}

impl Worker {
    /// Drops frames left over from an earlier stage, so a receiver counts only its own.
    pub fn drain(&mut self) {
        if let Some(events) = &mut self.events {
            while events.try_recv().is_ok() {}
        }
    }
}

/// `send.qos.*`: each worker sends `n` payloads to its null target; with a QoS that asks for
/// an ACK, waits for each (a not-registered ACK is the expected answer).
pub async fn send_to_null(
    workers: &[Worker],
    payload: &Arc<[u8]>,
    n: u64,
    qos: QoS,
    progress: &Progress,
) -> Outcome {
    let tasks: Vec<_> = workers
        .iter()
        .map(|worker| {
            let client = worker.client.clone();
            let target = worker.null_target.clone();
            tokio::spawn(send_loop(
                client,
                target,
                Pace::ToNull,
                payload.clone(),
                n,
                qos,
                progress.clone(),
            ))
        })
        .collect();
    join(tasks, n).await
}

/// `send+recv.qos.*`: each worker sends `n` payloads to itself while a second task counts
/// them arriving, with at most [`SELF_WINDOW_BYTES`] in flight. Frames that never arrive (the
/// broker dropped them or the client) are errors once the senders are done and `patience` has
/// passed without the rest.
pub async fn send_to_self(
    workers: &mut [Worker],
    payload: &Arc<[u8]>,
    n: u64,
    qos: QoS,
    progress: &Progress,
    patience: Duration,
) -> Outcome {
    let in_flight = (SELF_WINDOW_BYTES / payload.len().max(1)).max(4);
    let windows: Vec<_> = workers
        .iter()
        .map(|_| Arc::new(Semaphore::new(in_flight)))
        .collect();
    let mut receivers = Vec::with_capacity(workers.len());
    for (worker, window) in workers.iter_mut().zip(&windows) {
        worker.drain();
        let Some(events) = worker.events.take() else {
            receivers.push(None);
            continue;
        };
        let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
        let counter = count(events, n, window.clone(), cancel_rx);
        receivers.push(Some((cancel_tx, tokio::spawn(counter))));
    }
    let senders: Vec<_> = workers
        .iter()
        .zip(windows)
        .map(|(worker, window)| {
            let client = worker.client.clone();
            let target = client.name().to_owned();
            tokio::spawn(send_loop(
                client,
                target,
                Pace::ToSelf { window, patience },
                payload.clone(),
                n,
                qos,
                progress.clone(),
            ))
        })
        .collect();
    let mut outcome = join(senders, n).await;
    for (worker, receiver) in workers.iter_mut().zip(receivers) {
        let Some((cancel, mut task)) = receiver else {
            outcome.fail(
                n,
                CliError::new(Failure::Other, "a worker's event channel is gone"),
            );
            continue;
        };
        let joined = match tokio::time::timeout(patience, &mut task).await {
            Ok(joined) => joined,
            Err(_) => {
                let _ = cancel.send(());
                task.await
            }
        };
        match joined {
            Ok((events, got)) => {
                worker.events = Some(events);
                if got < n {
                    outcome.fail(
                        n - got,
                        CliError::new(
                            Failure::Other,
                            format!(
                                "{}: {} of {n} frames sent to itself never arrived",
                                worker.client.name(),
                                n - got
                            ),
                        ),
                    );
                }
            }
            Err(err) => outcome.fail(
                n,
                CliError::new(Failure::Other, format!("a receiver task failed: {err}")),
            ),
        }
    }
    outcome
}

/// Counts `n` frames, or fewer if the channel ends or the stage gives up on the rest; each
/// arrival gives its sender's `window` a permit back.
async fn count(
    mut events: EventChannel,
    n: u64,
    window: Arc<Semaphore>,
    mut cancel: oneshot::Receiver<()>,
) -> (EventChannel, u64) {
    let mut got = 0;
    while got < n {
        tokio::select! {
            biased;
            frame = events.recv() => match frame {
                Some(_) => {
                    got += 1;
                    window.add_permits(1);
                }
                None => break,
            },
            _ = &mut cancel => break,
        }
    }
    (events, got)
}

/// One worker's sends, paced by `pace`. A lost connection, or a window that stays shut for
/// the stage's patience, ends the loop; the rest count as errors.
async fn send_loop(
    client: Client,
    target: String,
    pace: Pace,
    payload: Arc<[u8]>,
    n: u64,
    qos: QoS,
    progress: Progress,
) -> Outcome {
    let mut outcome = Outcome {
        iters: n,
        ..Outcome::default()
    };
    let missing_ok = matches!(pace, Pace::ToNull);
    for i in 0..n {
        if let Pace::ToSelf { window, patience } = &pace {
            match tokio::time::timeout(*patience, window.acquire()).await {
                Ok(Ok(permit)) => permit.forget(),
                _ => {
                    let what = format!(
                        "{}: no frame sent to itself arrived within {patience:?}",
                        client.name()
                    );
                    outcome.fail(n - i, CliError::new(Failure::Other, what));
                    break;
                }
            }
        }
        let result = match client.send(&target, &payload, qos).await {
            Ok(confirm) => confirm.await,
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => {}
            // The null target does not exist: this ACK is the answer the stage expects.
            Err(err) if missing_ok && err.kind() == ErrorKind::NotRegistered => {}
            Err(err) => {
                let what = format!("{}: send to {target}", client.name());
                // Lost, or the broker stopped answering: every further send would fail the
                // same way (a timeout each), so the rest count as errors at once.
                if matches!(err.kind(), ErrorKind::Eof | ErrorKind::Timeout) {
                    outcome.fail(n - i, CliError::bus(what, &err));
                    break;
                }
                outcome.fail(1, CliError::bus(what, &err));
            }
        }
        progress.tick(i);
    }
    outcome
}

/// Waits for every worker task; a task that could not finish counts all its `n` as errors.
pub async fn join(tasks: Vec<tokio::task::JoinHandle<Outcome>>, n: u64) -> Outcome {
    let mut total = Outcome::default();
    for task in tasks {
        match task.await {
            Ok(outcome) => total.merge(outcome),
            Err(err) => {
                let mut failed = Outcome {
                    iters: n,
                    ..Outcome::default()
                };
                failed.fail(
                    n,
                    CliError::new(Failure::Other, format!("a worker task failed: {err}")),
                );
                total.merge(failed);
            }
        }
    }
    total
}

/// `latency.send`: one message in flight at a time, from a client to itself through the
/// broker; each sample is the time from handing the frame to the client until it is received.
pub async fn one_way_latency(
    worker: &mut Worker,
    payload: &[u8],
    n: u64,
    timeout: Duration,
    progress: &Progress,
) -> (Vec<Duration>, Outcome) {
    worker.drain();
    let mut samples = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let mut outcome = Outcome {
        iters: n,
        ..Outcome::default()
    };
    let target = worker.client.name().to_owned();
    let Some(events) = worker.events.as_mut() else {
        outcome.fail(
            n,
            CliError::new(Failure::Other, "the event channel is gone"),
        );
        return (samples, outcome);
    };
    for i in 0..n {
        let start = Instant::now();
        // Realtime without an ACK: the frame goes out at once and nothing else is waited for.
        if let Err(err) = worker.client.send(&target, payload, QoS::Realtime).await {
            outcome.fail(n - i, CliError::bus("latency: send", &err));
            break;
        }
        match tokio::time::timeout(timeout, events.recv()).await {
            Ok(Some(_)) => {
                samples.push(start.elapsed());
                progress.tick(i);
            }
            Ok(None) => {
                outcome.fail(n - i, CliError::bus("latency: receive", &Error::eof()));
                break;
            }
            Err(_) => {
                outcome.fail(n - i, CliError::bus("latency: receive", &Error::timeout()));
                break;
            }
        }
    }
    (samples, outcome)
}
