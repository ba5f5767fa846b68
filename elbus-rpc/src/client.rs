//! Client side: the [`RpcCall`] builder every generated client method returns.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use elbus::QoS;
use serde::de::DeserializeOwned;

use crate::codec::{decode_bytes, decode_value};
use crate::deadline;
use crate::error::{CallError, CodecError, RawCallError, RpcErrorCode};
use crate::transport::{DefaultTransport, RpcTransport, DEFAULT_TIMEOUT};

/// Decodes a reply payload into the call's result.
type Decoder<R> = fn(&[u8]) -> Result<R, CodecError>;

/// One pending typed call: set per-call options, then `.await` it (or call [`send`](Self::send)).
///
/// Resolves to `Result<R, CallError<E>>`. The timeout is taken from, in order: [`timeout`](Self::timeout)
/// on the call, `with_timeout` on the client, the method's `#[rpc(timeout)]`, the service's
/// `#[rpc(timeout)]`, the transport's [`default_timeout`](RpcTransport::default_timeout) (the bus
/// RPC client's `RpcOptions::timeout`), and [`DEFAULT_TIMEOUT`].
#[must_use = "an RPC call does nothing until it is awaited"]
pub struct RpcCall<'a, R, E, T = DefaultTransport> {
    transport: &'a T,
    target: &'a str,
    method: &'static str,
    params: Result<Vec<u8>, CodecError>,
    notify: bool,
    call_timeout: Option<Duration>,
    client_timeout: Option<Duration>,
    default_timeout: Option<Duration>,
    qos: Option<QoS>,
    send_deadline: bool,
    /// How the reply is decoded when not as plain MessagePack (`#[rpc(bytes)]` results).
    decode: Option<Decoder<R>>,
    _marker: PhantomData<fn() -> (R, E)>,
}

impl<'a, R, E, T> RpcCall<'a, R, E, T> {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub fn __new(
        transport: &'a T,
        target: &'a str,
        method: &'static str,
        params: Result<Vec<u8>, CodecError>,
        notify: bool,
        client_timeout: Option<Duration>,
        default_timeout: Option<Duration>,
    ) -> Self {
        Self {
            transport,
            target,
            method,
            params,
            notify,
            call_timeout: None,
            client_timeout,
            default_timeout,
            qos: None,
            send_deadline: false,
            decode: None,
            _marker: PhantomData,
        }
    }

    #[doc(hidden)]
    pub fn __client_qos(mut self, qos: Option<QoS>) -> Self {
        self.qos = qos;
        self
    }

    #[doc(hidden)]
    pub fn __decode_bytes(mut self) -> Self
    where
        R: for<'de> serde_bytes::Deserialize<'de>,
    {
        self.decode = Some(decode_bytes::<R>);
        self
    }
}

impl<'a, R, E, T> RpcCall<'a, R, E, T>
where
    T: RpcTransport,
    R: DeserializeOwned,
    E: RpcErrorCode,
{
    /// Bounds this call by `timeout` (overrides every other timeout setting).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// Sends the request with `qos` instead of the client's `with_qos` or, without one,
    /// [`DEFAULT_QOS`](crate::DEFAULT_QOS) (`Processed`). Without an ACK (`QoS::No`, `QoS::Realtime`) a missing target is not
    /// reported at once: the call waits for its timeout. Transports without QoS ignore it.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = Some(qos);
        self
    }

    /// Sends the call's timeout along, as the reserved params key `rpc.timeout_ms`
    /// (`docs/typed-rpc.md` §4): an elbus-rpc server then stops the handler once the caller
    /// stops waiting, and answers −32120. Opt-in because a server that predates it and was
    /// built with `deny_unknown_params`, or a hand-written peer that rejects unknown keys,
    /// refuses such params; servers that ignore unknown keys are unaffected. Notifications
    /// never send it.
    pub fn send_deadline(mut self) -> Self {
        self.send_deadline = true;
        self
    }

    /// The wire method name.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The timeout this call will run with.
    pub fn effective_timeout(&self) -> Duration {
        self.call_timeout
            .or(self.client_timeout)
            .or(self.default_timeout)
            .or_else(|| self.transport.default_timeout())
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// The encoded params (a MessagePack map keyed by param name), or why they failed to encode.
    pub fn params(&self) -> Result<&[u8], &CodecError> {
        self.params.as_deref()
    }

    /// Sends the call and waits for its result; the same as `.await` without boxing.
    ///
    /// The call has one deadline, [`effective_timeout`](Self::effective_timeout), and one timer:
    /// the transport's, which gets the deadline and bounds the whole call by it (see
    /// [`RpcTransport`]). The typed layer sets no timer of its own on top.
    pub async fn send(self) -> Result<R, CallError<E>> {
        #[cfg(feature = "tracing")]
        return crate::traced::client(self.target, self.method, self.send_untraced()).await;
        #[cfg(not(feature = "tracing"))]
        self.send_untraced().await
    }

    /// [`send`](Self::send) without its span.
    async fn send_untraced(self) -> Result<R, CallError<E>> {
        let timeout = self.effective_timeout();
        let mut params = self.params.map_err(CallError::Encode)?;
        let reply = match (self.notify, self.qos) {
            (true, None) => self
                .transport
                .notify(self.target, self.method, params, timeout)
                .await
                .map(|()| Bytes::new()),
            (true, Some(qos)) => self
                .transport
                .notify_qos(self.target, self.method, params, timeout, qos)
                .await
                .map(|()| Bytes::new()),
            (false, qos) => {
                if self.send_deadline {
                    deadline::append(&mut params, timeout);
                }
                match qos {
                    None => {
                        self.transport
                            .call(self.target, self.method, params, timeout)
                            .await
                    }
                    Some(qos) => {
                        self.transport
                            .call_qos(self.target, self.method, params, timeout, qos)
                            .await
                    }
                }
            }
        };
        match reply {
            Err(e) => Err(RawCallError::into_call_error(e)),
            Ok(payload) => match self.decode {
                Some(decode) => decode(&payload),
                None => decode_value(&payload),
            }
            .map_err(CallError::Decode),
        }
    }
}

impl<'a, R, E, T> IntoFuture for RpcCall<'a, R, E, T>
where
    T: RpcTransport,
    R: DeserializeOwned + Send + 'a,
    E: RpcErrorCode + Send + 'a,
{
    type Output = Result<R, CallError<E>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
