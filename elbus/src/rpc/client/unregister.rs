//! Unregister watching ([`RpcOptions::fail_calls_on_unregister`]): subscribing to the broker's
//! announcements and failing the calls that wait on a callee the broker says is gone.
//!
//! [`RpcOptions::fail_calls_on_unregister`]: super::RpcOptions::fail_calls_on_unregister

use tracing::warn;

use super::shared::Shared;
use crate::client::AsyncClient;
use crate::protocol::INFO_TOPIC;
use crate::rpc::faults;
use crate::{Frame, QoS};

/// Subscribes to the broker's announcements, logging (not failing) if that is refused.
pub(super) async fn subscribe<C: AsyncClient>(shared: &Shared<C>) {
    let subscribed = match shared.client.subscribe(INFO_TOPIC, QoS::Processed).await {
        Ok(confirm) => confirm.await,
        Err(err) => Err(err),
    };
    if let Err(err) = subscribed {
        warn!(
            "{}: unable to subscribe to {}: {err}",
            shared.client.name(),
            INFO_TOPIC
        );
    }
}

/// Fails the calls waiting on the client `frame` announces unregistered, if it is such an
/// announcement.
pub(super) fn fail_calls<C>(shared: &Shared<C>, frame: &Frame) {
    if let Some(primary) = faults::unregistered(frame) {
        shared.pending.fail_target(primary);
    }
}
