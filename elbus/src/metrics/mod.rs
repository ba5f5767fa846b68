//! Broker metrics in the Prometheus text exposition format (feature `metrics`): a
//! [`prometheus_client`] collector over a [`Broker`]'s counters, and a small bounded HTTP
//! endpoint that serves a registry ([`endpoint`]).
//!
//! [`BrokerMetrics`] reads the broker's relaxed atomic counters at each scrape: nothing is
//! counted twice, and a scrape takes no lock that routing takes (with per-client series, one
//! read of the client table, as `client.list` does). Register it into your own registry, next
//! to your application's metrics, or render it alone:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use elbus::broker::Broker;
//! use elbus::metrics::{endpoint, BrokerMetrics};
//! use elbus::metrics::prometheus_client::registry::Registry;
//!
//! let broker = Broker::new();
//! let mut registry = Registry::default();
//! BrokerMetrics::new(&broker).register(&mut registry);
//! // ... registry.register("app_requests", "Requests served", app_counter.clone()) ...
//! let served = endpoint::MetricsEndpoint::bind(
//!     "127.0.0.1:9925",
//!     Arc::new(registry),
//!     endpoint::EndpointLimits::default(),
//! )
//! .await?;
//! println!("scrape http://{}/metrics", served.local_addr());
//! // Or without HTTP: the text a scrape would get.
//! let text = BrokerMetrics::new(&broker).render();
//! # Ok(()) }
//! ```
//!
//! The metrics and their labels are listed in the README (`### Metrics`). Counters are
//! monotonic; gauges are current values. Series per client exist only with
//! [`BrokerMetrics::per_client`], as their number follows the number of clients.

pub mod endpoint;
mod families;

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;

use crate::broker::Broker;

/// The `prometheus-client` crate these metrics are built on, so a caller's registry and
/// metrics are of the same version.
pub use prometheus_client;
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The broker's metrics as a [`Collector`]: every scrape reads the broker's counters anew.
#[derive(Clone)]
pub struct BrokerMetrics {
    broker: Broker,
    per_client: bool,
}

impl fmt::Debug for BrokerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerMetrics")
            .field("per_client", &self.per_client)
            .finish_non_exhaustive()
    }
}

impl BrokerMetrics {
    /// The broker-wide metrics of `broker` (no per-client series).
    pub fn new(broker: &Broker) -> Self {
        BrokerMetrics {
            broker: broker.clone(),
            per_client: false,
        }
    }

    /// Adds (or, with `false`, leaves out) the series of each primary client, labelled with
    /// its name and transport (`elbusd --metrics-per-client`). Off by default: their number
    /// follows the number of clients, and a client chooses its name.
    pub fn per_client(mut self, per_client: bool) -> Self {
        self.per_client = per_client;
        self
    }

    /// Registers these metrics into `registry` as a collector.
    pub fn register(self, registry: &mut Registry) {
        registry.register_collector(Box::new(self));
    }

    /// The metrics alone in the Prometheus text exposition format (version 0.0.4,
    /// [`CONTENT_TYPE`]), as `/metrics` serves them.
    pub fn render(&self) -> String {
        let mut registry = Registry::default();
        self.clone().register(&mut registry);
        render(&registry)
    }
}

/// `registry` in the Prometheus text exposition format (version 0.0.4, [`CONTENT_TYPE`]).
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail, and our collector's encoders return no errors of
    // their own; a collector of the caller's that fails leaves the text it wrote so far.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, registry);
    text
}

impl Collector for BrokerMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let snapshot = self.broker.inner().metrics_snapshot();
        families::broker_wide(&mut encoder, &snapshot)?;
        if self.per_client {
            families::per_client(&mut encoder, &self.broker.client_list())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AsyncClient, QoS};

    #[tokio::test]
    async fn an_embedded_broker_renders_its_traffic() {
        let broker = Broker::new();
        let listener = broker.register_client("t.listener").unwrap();
        let mut events = listener.take_event_channel().unwrap();
        listener.subscribe("t/x", QoS::No).await.unwrap();
        let sender = broker.register_client("t.sender").unwrap();
        sender.publish("t/x", b"12", QoS::No).await.unwrap();
        events.recv().await.unwrap();
        let text = BrokerMetrics::new(&broker).render();
        for line in [
            "# TYPE elbus_received_frames_total counter",
            "elbus_received_frames_total{op=\"publish\"} 1",
            "elbus_received_frames_total{op=\"subscribe\"} 1",
            "elbus_delivered_frames_total{op=\"publish\"} 1",
            "elbus_delivered_bytes_total{op=\"publish\"} 2",
            "elbus_clients{transport=\"in_process\"} 2",
            "elbus_subscriptions 3",
            "elbus_build_info{version=\"",
        ] {
            assert!(text.contains(line), "no {line:?} in\n{text}");
        }
        assert!(!text.contains("elbus_client_received_frames_total"));
        let text = BrokerMetrics::new(&broker).per_client(true).render();
        assert!(
            text.contains(
                "elbus_client_received_frames_total{client=\"t.sender\",transport=\"in_process\"} 1"
            ),
            "{text}"
        );
    }
    #[tokio::test]
    async fn drops_are_counted_by_the_policy_that_dropped_them() {
        use crate::broker::{BrokerOptions, OverflowPolicy, QueueLimits};
        let options = BrokerOptions {
            internal_queue: QueueLimits {
                max_frames: 1,
                max_bytes: QueueLimits::MIN_MAX_BYTES,
                overflow: OverflowPolicy::DropNewest,
            },
            internal_channel_size: 1,
            ..BrokerOptions::default()
        };
        let broker = Broker::with_options(options);
        // Never read: one frame fills its channel, one its queue, the rest are dropped.
        let stuck = broker.register_client("t.stuck").unwrap();
        let _events = stuck.take_event_channel().unwrap();
        let sender = broker.register_client("t.sender").unwrap();
        let mut refused = 0;
        for _ in 0..5 {
            if sender.send("t.stuck", b"x", QoS::Processed).await.is_err() {
                refused += 1;
            }
        }
        let text = BrokerMetrics::new(&broker).render();
        let line = format!("elbus_dropped_frames_total{{policy=\"drop-newest\"}} {refused}");
        assert!(
            refused > 0 && text.contains(&line),
            "{refused} refused:\n{text}"
        );
        assert!(text.contains("elbus_dropped_frames_total{policy=\"drop-oldest\"} 0"));
        let delivered = format!(
            "elbus_delivered_frames_total{{op=\"message\"}} {}",
            5 - refused
        );
        assert!(text.contains(&delivered), "{text}");
    }
}
