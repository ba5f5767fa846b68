//! The byte-level transport a typed client sends through.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use elbus::QoS;

use crate::error::RawCallError;

/// The timeout of a call when neither the call, the client, the method, the service nor the
/// transport ([`RpcTransport::default_timeout`]) set one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The transport generated clients use when none is named (`CalcClient` = `CalcClient<DefaultTransport>`).
///
/// The bus RPC client over a socket connection; name another transport (an RPC client over an
/// in-process client, or [`Loopback`](crate::Loopback)) as the type parameter.
pub type DefaultTransport = elbus::rpc::RpcClient<elbus::ipc::Client>;

/// Sends byte-level RPC requests to a named target (`docs/protocol.md` §9).
///
/// Implement it for a bus RPC client to use the generated clients over the bus. Both methods get
/// the whole-call `timeout`, the call's one deadline: the transport bounds the returned future by
/// it (one timer per call) and the typed client sets no timer of its own, so a transport that
/// ignores `timeout` leaves its calls unbounded. A caller may still drop the future early, so a
/// transport must clean up its pending state on drop.
pub trait RpcTransport: Clone + Send + Sync + 'static {
    /// Sends request `method` with `params` to client `target` and waits for the reply payload.
    ///
    /// The payload is [`Bytes`] so a transport can hand over the received frame's buffer
    /// without copying it (the bus RPC client does).
    ///
    /// An error reply becomes [`RawCallError::Remote`]; use [`RawCallError::from_code`] to sort
    /// a byte layer's `(code, data)` into remote errors, timeouts and bus failures.
    fn call(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Bytes, RawCallError>> + Send;

    /// The transport's own default timeout (for the bus RPC client, its
    /// [`RpcOptions::timeout`](elbus::rpc::RpcOptions::timeout)): what a call runs with when
    /// neither the call, the client, the method nor the service set one. `None` (the default)
    /// falls back to [`DEFAULT_TIMEOUT`].
    fn default_timeout(&self) -> Option<Duration> {
        None
    }

    /// Sends `method` with call id 0 (no reply wanted); resolves once the bus accepted the frame.
    fn notify(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), RawCallError>> + Send;

    /// [`call`](Self::call) with the QoS the call chose ([`RpcCall::qos`](crate::RpcCall::qos)).
    /// The default ignores `qos` (for transports without one, like [`Loopback`](crate::Loopback));
    /// the bus RPC client sends the request with it.
    fn call_qos(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
        qos: QoS,
    ) -> impl Future<Output = Result<Bytes, RawCallError>> + Send {
        let _ = qos;
        self.call(target, method, params, timeout)
    }

    /// Where the notifications of push streams opened through this transport land: `Some` for
    /// transports that receive notifications ([`RpcBus`](crate::RpcBus)); `None` (the
    /// default) makes [`PullStream::push`](crate::PullStream::push) fail.
    fn push_inboxes(&self) -> Option<std::sync::Arc<crate::streams::PushInboxes>> {
        None
    }

    /// [`notify`](Self::notify) with the QoS the call chose; the default ignores `qos`.
    fn notify_qos(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
        qos: QoS,
    ) -> impl Future<Output = Result<(), RawCallError>> + Send {
        let _ = qos;
        self.notify(target, method, params, timeout)
    }
}
