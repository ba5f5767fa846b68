//! [`RpcClient`]: calls, notifications and request handling over any elbus client.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::error::RpcError;
use super::faults;
use super::handlers::RpcHandlers;
use super::payload::{self, RpcEvent, RpcEventKind};
use crate::client::{AsyncClient, ConnectionState, EventChannel};
use crate::logging::{Escaped, LogLimiter};
use crate::{Error, ErrorKind, Frame, FrameKind, QoS};

/// How long [`RpcClient::call`] waits for the whole round trip unless told otherwise (5 s, the
/// timeout `busrtd` runs with).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of an [`RpcClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcOptions {
    timeout: Duration,
    blocking_notifications: bool,
    blocking_frames: bool,
    fail_on_unregister: bool,
    spawn_calls: bool,
}

impl Default for RpcOptions {
    fn default() -> Self {
        RpcOptions {
            timeout: DEFAULT_CALL_TIMEOUT,
            blocking_notifications: false,
            blocking_frames: false,
            fail_on_unregister: false,
            spawn_calls: false,
        }
    }
}

impl RpcOptions {
    /// The defaults: a [`DEFAULT_CALL_TIMEOUT`], notifications and frames spawned.
    pub fn new() -> Self {
        RpcOptions::default()
    }

    /// The default bound of a call's whole round trip (send, ACK, reply), and of the send and
    /// ACK of `call0` and `notify`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The default bound of a call's round trip, as set by [`timeout`](Self::timeout).
    pub fn call_timeout(&self) -> Duration {
        self.timeout
    }

    /// Handles notifications inline, one after another in arrival order, instead of spawning a
    /// task for each. Everything received behind a notification (replies too) waits for its
    /// handler, so keep such handlers short.
    pub fn blocking_notifications(mut self) -> Self {
        self.blocking_notifications = true;
        self
    }

    /// Handles broadcasts and publications inline, in arrival order (see
    /// [`blocking_notifications`](Self::blocking_notifications) for the cost).
    pub fn blocking_frames(mut self) -> Self {
        self.blocking_frames = true;
        self
    }

    /// Runs every call's handler in a task of its own from the start. By default a handler is
    /// first polled where the request arrives, and moved to a task of its own only if it has
    /// to wait: a handler that answers at once then costs no task switch. Set this when
    /// handlers may compute for long before their first `.await`, so that they cannot hold up
    /// the requests and replies behind them.
    pub fn spawn_calls(mut self) -> Self {
        self.spawn_calls = true;
        self
    }

    /// Subscribes the client to the broker's announcements ([`ANNOUNCEMENT_TOPIC`]) and fails
    /// the calls waiting on a callee as soon as the broker announces that it (or its primary)
    /// unregistered, with -32113, instead of letting them wait for their timeout. The
    /// announcements still reach [`RpcHandlers::handle_frame`].
    ///
    /// [`ANNOUNCEMENT_TOPIC`]: super::ANNOUNCEMENT_TOPIC
    pub fn fail_calls_on_unregister(mut self) -> Self {
        self.fail_on_unregister = true;
        self
    }
}

/// Counters of what an [`RpcClient`] received and could not use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RpcStats {
    /// Messages whose payload is not valid RPC (empty, too short, no NUL after the method,
    /// unknown type byte). They are logged and dropped.
    pub invalid_payloads: u64,
    /// Replies and error replies for a call id nobody waits for (never sent, timed out or
    /// abandoned). They are logged and dropped.
    pub orphaned_replies: u64,
}

type ReplySender = oneshot::Sender<Result<RpcEvent, RpcError>>;

/// A call awaiting its reply: the callee's primary name (to fail it when the callee goes away)
/// and where the outcome goes.
struct PendingCall {
    primary: Box<str>,
    tx: ReplySender,
}

/// The calls awaiting replies. `closed` is set, under the same lock, when the event channel
/// ends, so that no call can register after the final sweep and then wait in vain.
#[derive(Default)]
struct Pending {
    calls: HashMap<u32, PendingCall>,
    closed: bool,
}

/// What the handles, the processor, the pinger and the request tasks share.
struct Shared<C> {
    client: C,
    pending: Mutex<Pending>,
    next_id: AtomicU32,
    invalid_payloads: AtomicU64,
    orphaned_replies: AtomicU64,
    options: RpcOptions,
    /// Limits the warnings peers can trigger (invalid payloads, orphaned replies, callers gone
    /// before their reply): a peer sending them in a loop must not flood the log.
    peer_warnings: LogLimiter,
}

impl<C: AsyncClient> Shared<C> {
    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        // Nothing panics while holding the lock; recover the map rather than spread a panic.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new call, giving its id and the receiver of its outcome.
    fn register_call(
        &self,
        target: &str,
    ) -> Result<(u32, oneshot::Receiver<Result<RpcEvent, RpcError>>), RpcError> {
        let mut pending = self.lock_pending();
        if pending.closed {
            return Err(connection_closed());
        }
        let (tx, rx) = oneshot::channel();
        loop {
            // Ids count 1, 2, ... and wrap to 1 (0 means "no reply"). After a wrap, an id may
            // still be waiting; skip it rather than steal its reply.
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 && !pending.calls.contains_key(&id) {
                let primary = crate::protocol::primary_name(target).into();
                pending.calls.insert(id, PendingCall { primary, tx });
                return Ok((id, rx));
            }
        }
    }

    /// Sends one RPC message and waits for its ACK when the QoS asks for one.
    async fn send(
        &self,
        target: &str,
        header: &[u8],
        data: &[u8],
        qos: QoS,
    ) -> Result<(), RpcError> {
        self.client
            .zc_send(target, header, data, qos)
            .await?
            .await?;
        Ok(())
    }

    /// Sends the outcome of a request back to its sender, mirroring the request's realtime flag.
    async fn reply(&self, request: &Frame, id: u32, result: Result<Option<Vec<u8>>, RpcError>) {
        let qos = if request.is_realtime() {
            QoS::RealtimeProcessed
        } else {
            QoS::Processed
        };
        let sent = match &result {
            Ok(data) => {
                let data = data.as_deref().unwrap_or_default();
                self.send(request.sender(), &payload::reply_header(id), data, qos)
                    .await
            }
            Err(err) => {
                let data = err.data().unwrap_or_default();
                let header = payload::error_header(id, err.code());
                self.send(request.sender(), &header, data, qos).await
            }
        };
        if let Err(err) = sent {
            // The caller left or the connection dropped: nobody to tell but the log.
            if self.peer_warnings.allow() {
                warn!(
                    "{}: unable to reply to {} (call id {id}): {err}",
                    Escaped(self.client.name()),
                    Escaped(request.sender())
                );
            }
        }
    }

    /// Hands a reply or error reply to the call waiting for it.
    fn complete(&self, event: RpcEvent) {
        let waiter = self.lock_pending().calls.remove(&event.id());
        let Some(waiter) = waiter else {
            self.orphaned_replies.fetch_add(1, Ordering::Relaxed);
            if self.peer_warnings.allow() {
                warn!(
                    "{}: orphaned RPC response {} from {}",
                    Escaped(self.client.name()),
                    event.id(),
                    Escaped(event.sender())
                );
            }
            return;
        };
        let outcome = match event.to_error() {
            Some(err) => Err(err),
            None => Ok(event),
        };
        // The caller may have given up between the lookup and now; that is fine.
        let _ = waiter.tx.send(outcome);
    }

    /// Fails every waiting call, and every later one, once the connection is gone.
    fn close(&self) {
        let calls = {
            let mut pending = self.lock_pending();
            pending.closed = true;
            std::mem::take(&mut pending.calls)
        };
        for (_, waiter) in calls {
            let _ = waiter.tx.send(Err(connection_closed()));
        }
    }

    /// Fails the calls waiting on `primary` or one of its secondaries.
    fn fail_target(&self, primary: &str) {
        let failed: Vec<PendingCall> = {
            let mut pending = self.lock_pending();
            let ids: Vec<u32> = pending
                .calls
                .iter()
                .filter(|(_, call)| &*call.primary == primary)
                .map(|(&id, _)| id)
                .collect();
            ids.iter()
                .filter_map(|id| pending.calls.remove(id))
                .collect()
        };
        for call in failed {
            let _ = call.tx.send(Err(faults::target_gone(primary)));
        }
    }

    /// Fails every waiting call without closing: the client may reconnect, and later calls go
    /// over the new connection.
    fn fail_all(&self) {
        let calls = std::mem::take(&mut self.lock_pending().calls);
        for (_, call) in calls {
            let _ = call.tx.send(Err(faults::connection_lost()));
        }
    }
}

/// The error of calls made on, or waiting on, a closed connection: -32255 (Eof).
fn connection_closed() -> RpcError {
    RpcError::bus(ErrorKind::Eof, "the connection to the broker is closed")
}

/// Removes a call's pending entry when the call ends in any way: reply, error, timeout, or the
/// caller dropping the future.
struct PendingGuard<'a, C: AsyncClient> {
    shared: &'a Shared<C>,
    id: u32,
}

impl<C: AsyncClient> Drop for PendingGuard<'_, C> {
    fn drop(&mut self) {
        self.shared.lock_pending().calls.remove(&self.id);
    }
}

/// The background tasks of one RPC client, stopped when the last handle goes.
struct Tasks {
    processor: JoinHandle<()>,
    pinger: Option<JoinHandle<()>>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.processor.abort();
        if let Some(pinger) = &self.pinger {
            pinger.abort();
        }
    }
}

/// An RPC client over any elbus client `C` (a socket client or an in-process
/// [`broker::Client`](crate::broker::Client)).
///
/// It takes the client's event channel: replies complete calls, requests and notifications go
/// to the [`RpcHandlers`], and broadcasts and publications go to
/// [`RpcHandlers::handle_frame`] untouched. Use [`client`](Self::client) for pub/sub.
///
/// The handle is cheap to clone. When the last clone is dropped, request processing and
/// pinging stop (handlers already running finish).
///
/// ```no_run
/// # async fn demo(broker: elbus::broker::Broker) -> Result<(), Box<dyn std::error::Error>> {
/// use elbus::rpc::{DummyHandlers, RpcClient};
/// use elbus::QoS;
///
/// let rpc = RpcClient::new(broker.register_client("caller")?, DummyHandlers)?;
/// let reply = rpc.call("svc", "hello", b"", QoS::Processed).await?;
/// println!("{:?}", reply.payload());
/// # Ok(()) }
/// ```
pub struct RpcClient<C: AsyncClient> {
    shared: Arc<Shared<C>>,
    tasks: Arc<Tasks>,
}

impl<C: AsyncClient> Clone for RpcClient<C> {
    fn clone(&self) -> Self {
        RpcClient {
            shared: self.shared.clone(),
            tasks: self.tasks.clone(),
        }
    }
}

impl<C: AsyncClient> fmt::Debug for RpcClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("name", &self.shared.client.name())
            .field("pending_calls", &self.shared.lock_pending().calls.len())
            .field("options", &self.shared.options)
            .finish()
    }
}

impl<C: AsyncClient + 'static> RpcClient<C> {
    /// Wraps `client`, serving `handlers`, with default [`RpcOptions`].
    ///
    /// Must run inside a Tokio runtime. Fails if the client's event channel was already taken.
    pub fn new<H: RpcHandlers>(client: C, handlers: H) -> Result<Self, Error> {
        RpcClient::create(client, handlers, RpcOptions::default())
    }

    /// Wraps `client`, serving `handlers`, with `options`.
    ///
    /// If the client has a timeout (socket clients), it is pinged at once and then every half
    /// timeout, so the broker's idle timer never fires.
    pub fn create<H: RpcHandlers>(
        client: C,
        handlers: H,
        options: RpcOptions,
    ) -> Result<Self, Error> {
        let events = client
            .take_event_channel()
            .ok_or_else(|| Error::busy("the client's event channel is already taken"))?;
        let ping_every = client
            .timeout()
            .map(|timeout| (timeout / 2).max(Duration::from_millis(1)));
        let shared = Arc::new(Shared {
            client,
            pending: Mutex::new(Pending::default()),
            next_id: AtomicU32::new(1),
            invalid_payloads: AtomicU64::new(0),
            orphaned_replies: AtomicU64::new(0),
            options,
            peer_warnings: LogLimiter::with_default_rate("RPC warnings about peers"),
        });
        let processor = tokio::spawn(process(shared.clone(), Arc::new(handlers), events));
        let pinger = ping_every.map(|every| tokio::spawn(ping(shared.clone(), every)));
        Ok(RpcClient {
            shared,
            tasks: Arc::new(Tasks { processor, pinger }),
        })
    }

    /// The wrapped client, for pub/sub, broadcasts and plain messages.
    pub fn client(&self) -> &C {
        &self.shared.client
    }

    /// Calls `method` of `target` with `params` and waits for the reply, for at most the
    /// client's timeout ([`RpcOptions::timeout`]).
    ///
    /// Use a QoS that asks for an ACK (`Processed`, `RealtimeProcessed`): then a missing target
    /// fails at once with -32113 instead of waiting for the timeout. The reply's
    /// [`payload`](RpcEvent::payload) is the result; an error reply is `Err` with its code and
    /// data. A bus failure is `-32000 - code`, a timeout -32120, a connection lost while
    /// waiting -32255, a method name that is empty or holds a NUL -32600.
    pub async fn call(
        &self,
        target: &str,
        method: &str,
        params: &[u8],
        qos: QoS,
    ) -> Result<RpcEvent, RpcError> {
        self.call_with_timeout(target, method, params, qos, self.shared.options.timeout)
            .await
    }

    /// [`call`](Self::call) with its own bound on the round trip.
    pub async fn call_with_timeout(
        &self,
        target: &str,
        method: &str,
        params: &[u8],
        qos: QoS,
        timeout: Duration,
    ) -> Result<RpcEvent, RpcError> {
        payload::validate_method(method)?;
        let (id, reply) = self.shared.register_call(target)?;
        let _guard = PendingGuard {
            shared: &self.shared,
            id,
        };
        let header = payload::request_header(id, method);
        let round_trip = async {
            self.shared.send(target, &header, params, qos).await?;
            // The sender is only dropped by the final sweep, which sends an error first; treat
            // a bare drop the same way.
            reply.await.unwrap_or_else(|_| Err(connection_closed()))
        };
        match tokio::time::timeout(timeout, round_trip).await {
            Ok(outcome) => outcome,
            Err(_) => Err(call_timed_out(timeout)),
        }
    }

    /// Calls `method` of `target` without wanting a reply (call id 0). Resolves once the broker
    /// has ACKed the message (at once for QoS without ACK); the handler's result is discarded.
    pub async fn call0(
        &self,
        target: &str,
        method: &str,
        params: &[u8],
        qos: QoS,
    ) -> Result<(), RpcError> {
        payload::validate_method(method)?;
        let header = payload::request_header(0, method);
        self.send_bounded(target, &header, params, qos).await
    }

    /// Sends a notification with `data` to `target`. Resolves once the broker has ACKed it (at
    /// once for QoS without ACK).
    pub async fn notify(&self, target: &str, data: &[u8], qos: QoS) -> Result<(), RpcError> {
        self.send_bounded(target, &payload::NOTIFICATION_HEADER, data, qos)
            .await
    }

    async fn send_bounded(
        &self,
        target: &str,
        header: &[u8],
        data: &[u8],
        qos: QoS,
    ) -> Result<(), RpcError> {
        let timeout = self.shared.options.timeout;
        tokio::time::timeout(timeout, self.shared.send(target, header, data, qos))
            .await
            .unwrap_or_else(|_| Err(call_timed_out(timeout)))
    }

    /// How many calls are waiting for a reply right now.
    pub fn pending_calls(&self) -> usize {
        self.shared.lock_pending().calls.len()
    }

    /// Counters of invalid and orphaned payloads received so far.
    pub fn stats(&self) -> RpcStats {
        RpcStats {
            invalid_payloads: self.shared.invalid_payloads.load(Ordering::Relaxed),
            orphaned_replies: self.shared.orphaned_replies.load(Ordering::Relaxed),
        }
    }

    /// Whether the client is connected and its events are still being received.
    pub fn is_connected(&self) -> bool {
        !self.shared.lock_pending().closed && self.shared.client.is_connected()
    }

    /// The options the client runs with.
    pub fn options(&self) -> RpcOptions {
        self.shared.options
    }
}

fn call_timed_out(timeout: Duration) -> RpcError {
    RpcError::bus(ErrorKind::Timeout, format!("no reply within {timeout:?}"))
}

/// Receives the client's frames until its event channel ends, then fails the calls left.
async fn process<C, H>(shared: Arc<Shared<C>>, handlers: Arc<H>, mut events: EventChannel)
where
    C: AsyncClient + 'static,
    H: RpcHandlers,
{
    let options = shared.options;
    if options.fail_on_unregister {
        subscribe_announcements(&shared).await;
    }
    let mut connection = shared.client.connection_changes().map(|mut rx| {
        let last = *rx.borrow_and_update();
        ConnectionWatch { rx, last }
    });
    loop {
        let frame = tokio::select! {
            frame = events.recv() => frame,
            lost = connection_lost(&mut connection) => {
                if lost {
                    shared.fail_all();
                }
                continue;
            }
        };
        let Some(frame) = frame else {
            break;
        };
        if frame.kind() != FrameKind::Message {
            if options.fail_on_unregister {
                if let Some(primary) = faults::unregistered(&frame) {
                    shared.fail_target(primary);
                }
            }
            if options.blocking_frames {
                handlers.handle_frame(frame).await;
            } else {
                let handlers = handlers.clone();
                tokio::spawn(async move { handlers.handle_frame(frame).await });
            }
            continue;
        }
        let event = match RpcEvent::parse_or_return(frame) {
            Ok(event) => event,
            Err((frame, err)) => {
                shared.invalid_payloads.fetch_add(1, Ordering::Relaxed);
                if shared.peer_warnings.allow() {
                    warn!(
                        "{}: invalid RPC payload from {}: {}",
                        Escaped(shared.client.name()),
                        Escaped(frame.sender()),
                        Escaped(&err)
                    );
                }
                continue;
            }
        };
        match event.kind() {
            RpcEventKind::Reply | RpcEventKind::ErrorReply => shared.complete(event),
            RpcEventKind::Notification => {
                if options.blocking_notifications {
                    handlers.handle_notification(event).await;
                } else {
                    let handlers = handlers.clone();
                    tokio::spawn(async move { handlers.handle_notification(event).await });
                }
            }
            RpcEventKind::Request => {
                let (shared, handlers) = (shared.clone(), handlers.clone());
                let call = Box::pin(async move {
                    let id = event.id();
                    let request = event.frame().clone();
                    let result = CatchUnwind(Box::pin(handlers.handle_call(event)))
                        .await
                        .unwrap_or_else(|_| {
                            if shared.peer_warnings.allow() {
                                warn!(
                                    "{}: the handler of call {id} from {} panicked",
                                    Escaped(shared.client.name()),
                                    Escaped(request.sender())
                                );
                            }
                            Err(RpcError::internal(Some(b"the handler panicked".to_vec())))
                        });
                    if id != 0 {
                        shared.reply(&request, id, result).await;
                    }
                });
                run_call(call, options.spawn_calls).await;
            }
        }
    }
    debug!("{}: event channel closed", shared.client.name());
    shared.close();
}

/// Runs a call's handler and reply: polled once here, then in a task of its own if it must
/// wait (or from the start with `spawn`).
async fn run_call<F>(mut call: Pin<Box<F>>, spawn: bool)
where
    F: Future<Output = ()> + Send + 'static,
{
    // A handler that is not done after one poll has registered this task's waker; the spawned
    // task polls it again at once, which registers its own, so no wake-up is lost (this task
    // may only get a spurious one).
    if !spawn && std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx).is_ready())).await {
        return;
    }
    tokio::spawn(call);
}

/// Turns a panic while polling the boxed future into `Err`, so a handler that panics still gets
/// its caller an answer (-32603) instead of a timeout.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Subscribes to the broker's announcements, logging (not failing) if that is refused.
async fn subscribe_announcements<C: AsyncClient>(shared: &Shared<C>) {
    let subscribed = match shared
        .client
        .subscribe(faults::ANNOUNCEMENT_TOPIC, QoS::Processed)
        .await
    {
        Ok(confirm) => confirm.await,
        Err(err) => Err(err),
    };
    if let Err(err) = subscribed {
        warn!(
            "{}: unable to subscribe to {}: {err}",
            shared.client.name(),
            faults::ANNOUNCEMENT_TOPIC
        );
    }
}

/// A client's connection state as the processor last saw it.
struct ConnectionWatch {
    rx: watch::Receiver<ConnectionState>,
    last: ConnectionState,
}

/// Waits for the next connection state change; `true` when a loss happened. Never resolves for
/// a client without supervised connections (or once its state sender is gone).
async fn connection_lost(connection: &mut Option<ConnectionWatch>) -> bool {
    let Some(seen) = connection else {
        return std::future::pending().await;
    };
    if seen.rx.changed().await.is_err() {
        *connection = None;
        return false;
    }
    let now = *seen.rx.borrow_and_update();
    // `Connected` is only entered again after a loss, so seeing it twice in a row means the
    // loss in between was missed (a fast reconnect); `Reconnecting` then `Connected` is the
    // recovery from a loss already handled.
    let lost = now != ConnectionState::Connected || seen.last == ConnectionState::Connected;
    seen.last = now;
    lost
}

/// Pings the broker at once and then every `every`, until a ping fails on a connection that is
/// gone for good (while a socket client reconnects, failed pings are skipped).
async fn ping<C: AsyncClient>(shared: Arc<Shared<C>>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(err) = shared.client.ping().await {
            let reconnecting = shared
                .client
                .connection_changes()
                .is_some_and(|rx| *rx.borrow() != ConnectionState::Disconnected);
            if !reconnecting {
                debug!("{}: ping failed, pinger stops: {err}", shared.client.name());
                return;
            }
        }
    }
}
