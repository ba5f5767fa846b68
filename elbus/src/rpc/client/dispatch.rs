//! The dispatch loop: receives the client's frames until its event channel ends, completes
//! calls with their replies, and runs the handlers of requests, notifications and other frames.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use tracing::{debug, warn};

use super::connection::ConnectionWatch;
use super::shared::Shared;
use super::unregister;
use crate::client::{AsyncClient, EventChannel};
use crate::logging::Escaped;
use crate::rpc::error::RpcError;
use crate::rpc::handlers::RpcHandlers;
use crate::rpc::payload::{RpcEvent, RpcEventKind};
use crate::FrameKind;

/// Receives the client's frames until its event channel ends, then fails the calls left.
pub(super) async fn process<C, H>(
    shared: Arc<Shared<C>>,
    handlers: Arc<H>,
    mut events: EventChannel,
) where
    C: AsyncClient + 'static,
    H: RpcHandlers,
{
    let options = shared.options;
    if options.fail_on_unregister {
        unregister::subscribe(&shared).await;
    }
    let mut connection = ConnectionWatch::of(&shared.client);
    loop {
        // A frame already waiting is taken without arming the connection watch (a waiter
        // registration per frame); a change of the connection is still seen before it.
        if ConnectionWatch::lost_now(&mut connection) {
            shared.pending.fail_all();
        }
        let frame = match events.try_recv() {
            Ok(frame) => Some(frame),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => None,
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => tokio::select! {
                frame = events.recv() => frame,
                lost = ConnectionWatch::lost(&mut connection) => {
                    if lost {
                        shared.pending.fail_all();
                    }
                    continue;
                }
            },
        };
        let Some(frame) = frame else {
            break;
        };
        if frame.kind() != FrameKind::Message {
            if options.fail_on_unregister {
                unregister::fail_calls(&shared, &frame);
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
    shared.pending.close();
    shared.closed.send_replace(true);
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
