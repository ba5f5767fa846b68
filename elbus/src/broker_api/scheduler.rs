//! Bounded, fair scheduling of the `.broker` methods whose cost grows with the broker
//! (`client.list`: one entry per client).
//!
//! The cheap methods are answered at once, where the request arrives. An expensive call instead
//! waits in its caller's queue, and one task runs the queued calls one at a time, taking one
//! call from each caller in turn (round robin) and yielding to the runtime after each, so a
//! caller with a burst of calls cannot hold up other callers, the cheap methods, or the
//! sessions that share the runtime's threads. Each caller may have
//! [`MAX_QUEUED_CALLS_PER_CALLER`] calls queued, the broker [`MAX_QUEUED_CALLS`] (and
//! [`MAX_QUEUED_PARAMS_BYTES`] of params) in all; a call beyond that is refused at once with -32118
//! (busy), or dropped when it wants no reply (call id 0), and counted as refused. When a
//! caller's turn comes and it has disconnected, its queued calls are dropped unrun and counted
//! as abandoned: the work of a burst ends with its caller.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use super::methods::{self, MethodError};
use crate::broker::stats::ApiCounters;
use crate::broker::Broker;
use crate::sync::recover;

/// Most expensive `.broker` calls one connection may have queued.
pub const MAX_QUEUED_CALLS_PER_CALLER: usize = 8;
/// Most expensive `.broker` calls queued for all callers together.
pub const MAX_QUEUED_CALLS: usize = 256;
/// Most params bytes the queued calls may hold together (a call is always admitted into an
/// empty queue, so one large call still runs).
pub const MAX_QUEUED_PARAMS_BYTES: usize = 1 << 20;

/// `-32000 - ERR_BUSY`: too many calls queued.
const BUSY_ERROR: i16 = -32118;

/// One queued call.
struct Job {
    method: Box<[u8]>,
    params: Bytes,
    caller: Box<str>,
    reply: oneshot::Sender<Result<Vec<u8>, MethodError>>,
}

#[derive(Default)]
struct State {
    /// Queued calls by the caller's client id.
    callers: HashMap<u64, VecDeque<Job>>,
    /// Callers with queued calls, in turn order.
    turns: VecDeque<u64>,
    queued: usize,
    queued_bytes: usize,
}

struct Shared {
    broker: Broker,
    state: Mutex<State>,
    ready: Notify,
}

impl Shared {
    /// The `.broker` counters, kept by the broker.
    fn stats(&self) -> &ApiCounters {
        &self.broker.inner().api
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        recover(self.state.lock())
    }

    /// The next call to run, in turn order; the calls of callers that have gone are dropped
    /// on the way (returned in `abandoned`, to be dropped outside the lock).
    fn next_job(&self, abandoned: &mut Vec<Job>) -> Option<(u64, Job)> {
        let mut state = self.lock();
        while let Some(caller) = state.turns.pop_front() {
            let Some(mut jobs) = state.callers.remove(&caller) else {
                continue;
            };
            if !self.broker.is_client_registered(caller) {
                state.queued -= jobs.len();
                state.queued_bytes -= jobs.iter().map(|job| job.params.len()).sum::<usize>();
                self.stats()
                    .abandoned
                    .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                abandoned.extend(jobs);
                continue;
            }
            let job = jobs.pop_front()?;
            state.queued -= 1;
            state.queued_bytes -= job.params.len();
            if !jobs.is_empty() {
                state.callers.insert(caller, jobs);
                state.turns.push_back(caller);
            }
            return Some((caller, job));
        }
        None
    }
}

/// The queue and the task that runs the expensive `.broker` calls; see the module docs. The task
/// stops when this is dropped.
pub(crate) struct Scheduler {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scheduler {
    /// Starts the task that runs queued calls on `broker`, counting into its `.broker`
    /// counters.
    pub(crate) fn start(broker: Broker) -> Scheduler {
        let shared = Arc::new(Shared {
            broker,
            state: Mutex::default(),
            ready: Notify::new(),
        });
        let task = tokio::spawn(run(shared.clone()));
        Scheduler { shared, task }
    }

    /// Queues a call of `method` from the client `caller` (its full name), refusing it if the
    /// caller or the broker has too many queued, and waits for its result.
    pub(crate) async fn call(
        &self,
        caller: &str,
        method: &[u8],
        params: Bytes,
    ) -> Result<Vec<u8>, MethodError> {
        let shared = &self.shared;
        let Some(caller_id) = shared.broker.client_id(caller) else {
            shared.stats().abandoned.fetch_add(1, Ordering::Relaxed);
            return Err(gone());
        };
        let (reply, result) = oneshot::channel();
        {
            let mut state = shared.lock();
            let mine = state.callers.get(&caller_id).map_or(0, VecDeque::len);
            let too_many = mine >= MAX_QUEUED_CALLS_PER_CALLER
                || state.queued >= MAX_QUEUED_CALLS
                || (state.queued > 0
                    && state.queued_bytes + params.len() > MAX_QUEUED_PARAMS_BYTES);
            if too_many {
                drop(state);
                shared.stats().refused.fetch_add(1, Ordering::Relaxed);
                return Err(MethodError::new(
                    BUSY_ERROR,
                    Some("too many .broker calls pending, try again later".to_owned()),
                ));
            }
            state.queued += 1;
            state.queued_bytes += params.len();
            if mine == 0 {
                state.turns.push_back(caller_id);
            }
            state.callers.entry(caller_id).or_default().push_back(Job {
                method: method.into(),
                params,
                caller: caller.into(),
                reply,
            });
        }
        shared.ready.notify_one();
        // Dropped unrun: the caller has gone, nobody reads the answer.
        result.await.unwrap_or_else(|_| Err(gone()))
    }
}

fn gone() -> MethodError {
    MethodError::new(
        -32113,
        Some("the caller is no longer registered".to_owned()),
    )
}

/// Runs queued calls one at a time, in turn order, yielding after each.
async fn run(shared: Arc<Shared>) {
    let mut abandoned = Vec::new();
    loop {
        let next = shared.next_job(&mut abandoned);
        abandoned.clear();
        let Some((_, job)) = next else {
            // notify_one keeps a permit when nobody waits, so a call queued between the look
            // and this wait is not missed.
            shared.ready.notified().await;
            continue;
        };
        let result = methods::call_with_stats(
            &shared.broker,
            Some(&job.caller),
            &job.method,
            &job.params,
            Some(shared.stats()),
        );
        let _ = job.reply.send(result);
        tokio::task::yield_now().await;
    }
}
