//! [`RpcHandlers`]: what an [`RpcClient`](super::RpcClient) does with the calls, notifications
//! and other frames it receives.

use std::future::Future;

use super::error::{RpcError, RpcResult};
use super::payload::RpcEvent;
use crate::Frame;

/// The server side of an RPC client. Every method has a default, so implement only what you
/// serve.
///
/// * Each request runs [`handle_call`](Self::handle_call) in a task of its own, so calls are
///   answered concurrently. Its result is sent back to the caller unless the call id is 0.
/// * Notifications and frames are also spawned by default; the options
///   [`blocking_notifications`](super::RpcOptions::blocking_notifications) and
///   [`blocking_frames`](super::RpcOptions::blocking_frames) run them inline instead, in
///   arrival order (and hold up the processing of everything behind them while they run).
///
/// Methods return `impl Future + Send`, so implementations may be written as `async fn`.
pub trait RpcHandlers: Send + Sync + 'static {
    /// Answers a request. `Ok(Some(bytes))` replies with `bytes`, `Ok(None)` with an empty
    /// reply, `Err` with an error reply. The default answers -32601 (method not found) with
    /// empty data, as the original broker does for unknown methods.
    fn handle_call(&self, event: RpcEvent) -> impl Future<Output = RpcResult> + Send {
        // The event is dropped unused: there is no method to run.
        drop(event);
        std::future::ready(Err(RpcError::method(None)))
    }

    /// Handles a notification (`RpcEvent::payload` is its data). The default ignores it.
    fn handle_notification(&self, event: RpcEvent) -> impl Future<Output = ()> + Send {
        drop(event);
        std::future::ready(())
    }

    /// Handles a frame that is not RPC: a broadcast or a publication, untouched. The default
    /// ignores it.
    fn handle_frame(&self, frame: Frame) -> impl Future<Output = ()> + Send {
        drop(frame);
        std::future::ready(())
    }
}

/// Handlers that serve nothing: calls get -32601, everything else is ignored. For clients that
/// only call.
#[derive(Debug, Clone, Copy, Default)]
pub struct DummyHandlers;

impl RpcHandlers for DummyHandlers {}
