//! The type-erased transport a client stream sends its calls and notifications through.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::inboxes::PushInboxes;
use crate::error::RawCallError;
use crate::future::BoxFuture;
use crate::transport::RpcTransport;

pub(super) type Call = BoxFuture<'static, Result<Bytes, RawCallError>>;

/// Sends calls to the stream's target (a type-erased transport).
pub(super) trait Caller: Send + Sync {
    fn call(&self, method: &'static str, params: Vec<u8>) -> Call;
    /// Sends a notification from a spawned task (used from `Drop`, so it can't wait).
    fn notify(&self, method: &'static str, params: Vec<u8>);
    fn target(&self) -> &str;
    fn push_inboxes(&self) -> Option<Arc<PushInboxes>>;
}

pub(super) struct TransportCaller<T> {
    pub transport: T,
    pub target: Arc<str>,
    pub timeout: Duration,
}

impl<T: RpcTransport> Caller for TransportCaller<T> {
    fn call(&self, method: &'static str, params: Vec<u8>) -> Call {
        let (transport, target, timeout) =
            (self.transport.clone(), self.target.clone(), self.timeout);
        Box::pin(async move { transport.call(&target, method, params, timeout).await })
    }

    fn notify(&self, method: &'static str, params: Vec<u8>) {
        let (transport, target, timeout) =
            (self.transport.clone(), self.target.clone(), self.timeout);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = transport.notify(&target, method, params, timeout).await;
            });
        }
    }

    fn target(&self) -> &str {
        &self.target
    }

    fn push_inboxes(&self) -> Option<Arc<PushInboxes>> {
        self.transport.push_inboxes()
    }
}
