//! [`BusHandle`]: a type-erased clone of the bus client a service runs on, so a handler's
//! [`RpcContext`](crate::RpcContext) can publish and an event receiver can unsubscribe without
//! naming the client type.

use std::sync::Arc;

use elbus::{AsyncClient, Error, QoS};

use crate::future::BoxFuture;

/// What the erased client does.
trait DynBus: Send + Sync {
    fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
    ) -> BoxFuture<'static, Result<(), Error>>;
    fn subscribe(&self, patterns: Vec<String>, qos: QoS) -> BoxFuture<'static, Result<(), Error>>;
    fn unsubscribe(&self, patterns: Vec<String>, qos: QoS) -> BoxFuture<'static, ()>;
    fn notify(&self, target: String, data: Vec<u8>) -> BoxFuture<'static, Result<(), Error>>;
}

impl<C: AsyncClient + Clone + 'static> DynBus for C {
    fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
    ) -> BoxFuture<'static, Result<(), Error>> {
        let client = self.clone();
        Box::pin(async move {
            client.publish(&topic, &payload, qos).await?.await?;
            Ok(())
        })
    }

    fn subscribe(&self, patterns: Vec<String>, qos: QoS) -> BoxFuture<'static, Result<(), Error>> {
        let client = self.clone();
        Box::pin(async move {
            let topics: Vec<&str> = patterns.iter().map(String::as_str).collect();
            client.subscribe_bulk(&topics, qos).await?.await?;
            Ok(())
        })
    }

    fn unsubscribe(&self, patterns: Vec<String>, qos: QoS) -> BoxFuture<'static, ()> {
        let client = self.clone();
        Box::pin(async move {
            let topics: Vec<&str> = patterns.iter().map(String::as_str).collect();
            if let Ok(confirm) = client.unsubscribe_bulk(&topics, qos).await {
                let _ = confirm.await;
            }
        })
    }

    fn notify(&self, target: String, data: Vec<u8>) -> BoxFuture<'static, Result<(), Error>> {
        let client = self.clone();
        Box::pin(async move {
            // An RPC notification: type byte 00, then the data (protocol.md §9.1).
            client
                .zc_send(&target, &[0x00], &data, QoS::Processed)
                .await?
                .await
        })
    }
}

/// A cheap, cloneable handle to the bus client a service or subscriber runs on.
#[derive(Clone)]
pub(crate) struct BusHandle(Arc<dyn DynBus>);

impl BusHandle {
    pub fn new<C: AsyncClient + Clone + 'static>(client: C) -> Self {
        BusHandle(Arc::new(client))
    }

    pub async fn publish(&self, topic: String, payload: Vec<u8>, qos: QoS) -> Result<(), Error> {
        self.0.publish(topic, payload, qos).await
    }

    pub async fn subscribe(&self, patterns: Vec<String>, qos: QoS) -> Result<(), Error> {
        self.0.subscribe(patterns, qos).await
    }

    /// Sends an RPC notification with `data` to `target` (QoS Processed: waits for the ACK).
    pub async fn notify(&self, target: &str, data: Vec<u8>) -> Result<(), Error> {
        self.0.notify(target.to_owned(), data).await
    }

    pub async fn unsubscribe(&self, patterns: Vec<String>, qos: QoS) {
        self.0.unsubscribe(patterns, qos).await
    }
}

impl std::fmt::Debug for BusHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BusHandle")
    }
}
