//! The typed service the `typed_serving` tests serve: a handler that stalls until stopped
//! (reporting when it starts and when its future is dropped), one that holds calls at a gate
//! while counting how many run at once, and one that returns the deadline it was given.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use elbus_rpc::{rpc, RpcContext, RpcError, RpcRouter};
use tokio::sync::{mpsc, Semaphore};

/// The one error of [`Slow`]; never returned.
#[derive(Debug, PartialEq, RpcError)]
pub enum SlowError {
    /// Unused.
    #[rpc(code = 1)]
    Never,
}

/// A service whose handlers take their time. It denies unknown params, so a call that sends
/// its deadline (`rpc.timeout_ms`) proves the server takes the key out before decoding.
#[rpc(namespace = "slow", deny_unknown_params)]
pub trait Slow {
    /// Reports [`Event::Started`], then never answers; reports [`Event::Dropped`] when its
    /// future is dropped.
    async fn stall(&self, tag: String) -> Result<(), SlowError>;
    /// Waits for a permit of the gate, counting the calls inside at once.
    async fn hold(&self) -> Result<(), SlowError>;
    /// The milliseconds left to the call's deadline, if it has one.
    async fn time_left(&self, ctx: &RpcContext) -> Result<Option<u64>, SlowError>;
}

/// What the stalling handler reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `stall(tag)` started.
    Started(String),
    /// The future of `stall(tag)` was dropped.
    Dropped(String),
}

/// The implementation of [`Slow`].
pub struct SlowService {
    events: mpsc::UnboundedSender<Event>,
    gate: Arc<Semaphore>,
    inside: AtomicUsize,
    most_inside: AtomicUsize,
}

impl SlowService {
    /// The most `hold` calls that ran at once.
    pub fn most_inside(&self) -> usize {
        self.most_inside.load(Ordering::SeqCst)
    }
}

/// Reports [`Event::Dropped`] when dropped with the handler future that owns it.
struct DropReport(mpsc::UnboundedSender<Event>, String);

impl Drop for DropReport {
    fn drop(&mut self) {
        let _ = self.0.send(Event::Dropped(std::mem::take(&mut self.1)));
    }
}

impl Slow for SlowService {
    async fn stall(&self, tag: String) -> Result<(), SlowError> {
        let _report = DropReport(self.events.clone(), tag.clone());
        let _ = self.events.send(Event::Started(tag));
        std::future::pending().await
    }

    async fn hold(&self) -> Result<(), SlowError> {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_inside.fetch_max(now, Ordering::SeqCst);
        let permit = self.gate.acquire().await;
        self.inside.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
        Ok(())
    }

    async fn time_left(&self, ctx: &RpcContext) -> Result<Option<u64>, SlowError> {
        Ok(ctx.deadline().map(|deadline| {
            let left = deadline.saturating_duration_since(Instant::now());
            u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
        }))
    }
}

/// The parts of a served [`SlowService`] a test drives.
pub struct SlowParts {
    /// The service, to read its counters.
    pub service: Arc<SlowService>,
    /// What `stall` reports.
    pub events: mpsc::UnboundedReceiver<Event>,
    /// The gate `hold` waits at: add permits to let calls through.
    pub gate: Arc<Semaphore>,
}

/// A router serving a fresh [`SlowService`] (with `max_in_flight` when given), and its parts.
pub fn slow_router(max_in_flight: Option<usize>) -> (RpcRouter, SlowParts) {
    let (events, rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let service = Arc::new(SlowService {
        events,
        gate: gate.clone(),
        inside: AtomicUsize::new(0),
        most_inside: AtomicUsize::new(0),
    });
    let mut router = RpcRouter::new().service(SlowHandler::from_arc(service.clone()));
    if let Some(limit) = max_in_flight {
        router = router.max_in_flight(limit);
    }
    let parts = SlowParts {
        service,
        events: rx,
        gate,
    };
    (router, parts)
}
