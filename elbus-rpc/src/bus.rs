//! The bus glue: generated clients call over [`elbus::rpc::RpcClient`], and an [`RpcRouter`]
//! serves the requests an `RpcClient` receives.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use elbus::rpc::{RpcClient, RpcError, RpcEvent, RpcHandlers, RpcResult};
use elbus::{AsyncClient, QoS};

use crate::{RawCallError, RpcRouter, RpcTransport};

/// The QoS of typed calls: the broker ACKs the request, so a missing target fails at once.
const CALL_QOS: QoS = QoS::Processed;

impl<C: AsyncClient + 'static> RpcTransport for RpcClient<C> {
    /// The client's `RpcOptions::timeout`, so an `RpcClient` configured with a timeout bounds
    /// typed calls that set none of their own.
    fn default_timeout(&self) -> Option<Duration> {
        Some(self.options().call_timeout())
    }

    /// One timer per call: `call_with_timeout` bounds the whole round trip by `timeout`.
    async fn call(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> Result<Bytes, RawCallError> {
        self.call_with_timeout(target, method, &params, CALL_QOS, timeout)
            .await
            // A slice of the received frame: no copy of the reply.
            .map(|reply| reply.payload_bytes())
            .map_err(raw_error)
    }

    async fn notify(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), RawCallError> {
        // The call's one deadline. (`call0` also bounds its send by the client's
        // `RpcOptions::timeout`; it takes no deadline of its own.)
        match tokio::time::timeout(timeout, self.call0(target, method, &params, CALL_QOS)).await {
            Ok(result) => result.map_err(raw_error),
            Err(_elapsed) => Err(RawCallError::Timeout),
        }
    }
}

fn raw_error(err: RpcError) -> RawCallError {
    let code = err.code();
    RawCallError::from_code(code, err.into_data())
}

/// Serves an [`RpcRouter`] as the request handler of a byte-level [`RpcClient`].
///
/// ```no_run
/// # async fn demo(router: elbus_rpc::RpcRouter) -> Result<(), elbus::Error> {
/// use elbus::ipc::{Client, Config};
/// use elbus::rpc::RpcClient;
/// use elbus_rpc::RouterHandlers;
///
/// let client = Client::connect(&Config::new("/tmp/elbus.sock", "svc.calc")).await?;
/// let rpc = RpcClient::new(client, RouterHandlers::new(router))?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RouterHandlers {
    router: Arc<RpcRouter>,
}

impl RouterHandlers {
    /// Handlers that dispatch every request to `router`.
    pub fn new(router: RpcRouter) -> Self {
        RouterHandlers {
            router: Arc::new(router),
        }
    }

    /// The router being served.
    pub fn router(&self) -> &RpcRouter {
        &self.router
    }
}

impl RpcHandlers for RouterHandlers {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        match self
            .router
            .handle(event.sender(), event.method(), event.id(), event.payload())
            .await
        {
            Ok(reply) if reply.is_empty() => Ok(None),
            Ok(reply) => Ok(Some(reply)),
            Err(err) => {
                let (code, data) = err.into_parts();
                Err(RpcError::new(code, Some(data)))
            }
        }
    }
}

/// Starts serving `router` on `client`: a shorthand for
/// `RpcClient::new(client, RouterHandlers::new(router))`. Keep the returned client: dropping its
/// last clone stops the service.
pub fn serve<C: AsyncClient + 'static>(
    client: C,
    router: RpcRouter,
) -> Result<RpcClient<C>, elbus::Error> {
    RpcClient::new(client, RouterHandlers::new(router))
}
