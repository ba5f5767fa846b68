//! An in-process [`RpcTransport`] that dispatches straight to an [`RpcRouter`]: for tests, mocks
//! and services talking to themselves. No broker, no sockets.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinHandle;

use crate::context::RpcContext;
use crate::error::RawCallError;
use crate::router::RpcRouter;
use crate::transport::RpcTransport;

/// Calls an [`RpcRouter`] in-process. Every call runs as its own tokio task (so handler futures
/// must be `Send + 'static`, as on the bus) and is tracked as pending until it completes, times
/// out or is dropped; a dropped call aborts its task. A call's context has its timeout as
/// [`deadline`](RpcContext::deadline), as on the bus with
/// [`send_deadline`](crate::RpcCall::send_deadline).
///
/// Needs a tokio runtime. The `target` of a call is not checked: one loopback serves every name.
#[derive(Clone, Debug)]
pub struct Loopback {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    router: RpcRouter,
    sender: String,
    next_id: AtomicU32,
    pending: Mutex<HashSet<u32>>,
}

impl Loopback {
    /// A loopback to `router`; calls appear to come from the client `"loopback"`.
    pub fn new(router: RpcRouter) -> Self {
        Self::with_sender(router, "loopback")
    }

    /// A loopback to `router`; calls appear to come from the client `sender`.
    pub fn with_sender(router: RpcRouter, sender: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                router,
                sender: sender.into(),
                next_id: AtomicU32::new(1),
                pending: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The router calls go to.
    pub fn router(&self) -> &RpcRouter {
        &self.inner.router
    }

    /// How many calls are in flight (registered and not yet answered, timed out or dropped).
    pub fn pending(&self) -> usize {
        self.inner.pending.lock().map(|p| p.len()).unwrap_or(0)
    }

    fn next_id(&self) -> u32 {
        loop {
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    fn spawn(
        &self,
        method: &str,
        call_id: u32,
        params: Vec<u8>,
        timeout: Option<Duration>,
    ) -> JoinHandle<Result<Vec<u8>, RawCallError>> {
        let inner = self.inner.clone();
        let ctx = RpcContext::new(inner.sender.clone(), method, call_id)
            .with_deadline(timeout.and_then(|t| Instant::now().checked_add(t)));
        tokio::spawn(async move {
            inner
                .router
                .dispatch(&ctx, &params)
                .await
                // Sorted as a bus client sorts error replies: −32120 is a timeout, −32118 busy.
                .map_err(|e| {
                    let (code, data) = e.into_parts();
                    RawCallError::from_code(code, Some(data))
                })
        })
    }
}

/// Removes a call from the pending set and aborts its task when the call ends or is dropped.
struct PendingGuard<'a> {
    inner: &'a Inner,
    id: u32,
    task: JoinHandle<Result<Vec<u8>, RawCallError>>,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(mut pending) = self.inner.pending.lock() {
            pending.remove(&self.id);
        }
    }
}

impl RpcTransport for Loopback {
    async fn call(
        &self,
        _target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> Result<Bytes, RawCallError> {
        let id = self.next_id();
        if let Ok(mut pending) = self.inner.pending.lock() {
            pending.insert(id);
        }
        let mut guard = PendingGuard {
            inner: &self.inner,
            id,
            task: self.spawn(method, id, params, Some(timeout)),
        };
        match tokio::time::timeout(timeout, &mut guard.task).await {
            Err(_elapsed) => Err(RawCallError::Timeout),
            Ok(Err(join)) => Err(RawCallError::Transport(crate::TransportError::new(
                format!("handler task failed: {join}"),
            ))),
            Ok(Ok(reply)) => reply.map(Bytes::from),
        }
    }

    async fn notify(
        &self,
        _target: &str,
        method: &str,
        params: Vec<u8>,
        _timeout: Duration,
    ) -> Result<(), RawCallError> {
        // Fire and forget, like call id 0 on the bus: the handler runs, its result is dropped.
        drop(self.spawn(method, 0, params, None));
        Ok(())
    }
}
