//! The metric families, one function per group, encoded from a snapshot of the broker's
//! counters. Names, labels and help texts live here and only here (the README lists them).

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::broker::stats::{
    DropReason, MetricsSnapshot, Op, ACK_CODES, API_METHODS, DELIVERED_OPS,
};
use crate::broker::{ClientInfo, ClientKind};

/// The `transport` label of a client kind.
fn transport(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Internal => "in_process",
        ClientKind::LocalIpc => "unix",
        ClientKind::Tcp => "tcp",
    }
}

/// A counter family: `name` gets `_UNIT` and `_total` appended by the encoder.
fn counters<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    (name, help, unit): (&str, &str, Option<&Unit>),
    series: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A counter without labels.
fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

/// A gauge family.
fn gauges<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    (name, help, unit): (&str, &str, Option<&Unit>),
    series: impl IntoIterator<Item = (L, i64)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, value) in series {
        ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge without labels.
fn gauge(
    encoder: &mut DescriptorEncoder,
    (name, help, unit): (&str, &str, Option<&Unit>),
    value: impl prometheus_client::encoding::EncodeGaugeValue,
) -> fmt::Result {
    let metric = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

fn gauge_value(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The `code` label of an ACK counter: `0x01`, ..., `other`.
fn ack_label(index: usize) -> String {
    ACK_CODES
        .get(index)
        .map_or_else(|| "other".to_owned(), |code| format!("0x{code:02x}"))
}

/// The `method` label of a `.broker` counter.
fn method_label(index: usize) -> &'static str {
    API_METHODS.get(index).copied().unwrap_or("other")
}

/// Every broker-wide family.
pub(super) fn broker_wide(encoder: &mut DescriptorEncoder, s: &MetricsSnapshot) -> fmt::Result {
    let build = encoder.encode_descriptor(
        "elbus_build",
        "The elbus version serving the bus (always 1).",
        None,
        MetricType::Info,
    );
    build?.encode_info(&[("version", crate::VERSION)])?;
    gauge(
        encoder,
        (
            "elbus_uptime",
            "Time since the broker started.",
            Some(&Unit::Seconds),
        ),
        s.uptime.as_secs_f64(),
    )?;
    let kinds = ClientKind::ALL.map(transport);
    gauges(
        encoder,
        (
            "elbus_clients",
            "Clients registered now, secondaries included.",
            None,
        ),
        (0..kinds.len()).map(|i| {
            (
                [("transport", kinds[i])],
                gauge_value(s.registry.clients[i]),
            )
        }),
    )?;
    counters(
        encoder,
        (
            "elbus_registrations",
            "Successful client registrations.",
            None,
        ),
        (0..kinds.len()).map(|i| ([("transport", kinds[i])], s.registry.registrations[i])),
    )?;
    counter(
        encoder,
        "elbus_forced_disconnects",
        "Clients the broker disconnected (full queue, protocol error, idle or frame timeout, on request).",
        s.counters.forced_disconnects,
    )?;
    let ops = Op::ALL.map(Op::as_str);
    counters(
        encoder,
        (
            "elbus_received_frames",
            "Frames received from clients, by operation (pings excluded).",
            None,
        ),
        (0..ops.len()).map(|i| ([("op", ops[i])], s.ops.received_frames[i])),
    )?;
    counters(
        encoder,
        (
            "elbus_received",
            "Body bytes of the frames received from clients, by operation.",
            Some(&Unit::Bytes),
        ),
        (0..ops.len()).map(|i| ([("op", ops[i])], s.ops.received_bytes[i])),
    )?;
    let delivered = DELIVERED_OPS.map(Op::as_str);
    counters(
        encoder,
        (
            "elbus_delivered_frames",
            "Routed copies queued to recipients, by frame kind.",
            None,
        ),
        (0..delivered.len()).map(|i| ([("op", delivered[i])], s.ops.delivered_frames[i])),
    )?;
    counters(
        encoder,
        ("elbus_delivered", "Bytes of the routed copies queued to recipients (the body the sender sent, per copy), by frame kind.", Some(&Unit::Bytes)),
        (0..delivered.len()).map(|i| ([("op", delivered[i])], s.ops.delivered_bytes[i])),
    )?;
    counters(
        encoder,
        (
            "elbus_acks",
            "ACKs sent to socket clients, by result code.",
            None,
        ),
        s.ops
            .acks
            .iter()
            .enumerate()
            .map(|(i, &v)| ([("code", ack_label(i))], v)),
    )?;
    let policies = DropReason::ALL.map(DropReason::as_str);
    counters(
        encoder,
        ("elbus_dropped_frames", "Frames dropped because a client's queue was full, by the overflow policy that dropped them.", None),
        (0..policies.len()).map(|i| ([("policy", policies[i])], s.ops.dropped[i])),
    )?;
    gauge(
        encoder,
        (
            "elbus_queued",
            "Bytes queued for all clients now, at their memory cost.",
            Some(&Unit::Bytes),
        ),
        gauge_value(s.queued_bytes),
    )?;
    gauge(
        encoder,
        (
            "elbus_max_queued",
            "The broker-wide bound of queued bytes (--max-queued-bytes).",
            Some(&Unit::Bytes),
        ),
        gauge_value(s.max_queued_bytes),
    )?;
    gauge(
        encoder,
        (
            "elbus_subscriptions",
            "Subscriptions held by all clients now (each client's .broker/warn included).",
            None,
        ),
        gauge_value(s.registry.subscriptions),
    )?;
    gauge(
        encoder,
        (
            "elbus_exclusions",
            "Exclusions held by all clients now.",
            None,
        ),
        gauge_value(s.registry.exclusions),
    )?;
    counter(
        encoder,
        "elbus_access_denied",
        "Operations and registrations refused by the access-control rules (0x79).",
        s.counters.denied,
    )?;
    broker_api(encoder, s)
}

/// The `.broker` API families.
fn broker_api(encoder: &mut DescriptorEncoder, s: &MetricsSnapshot) -> fmt::Result {
    counters(
        encoder,
        (
            "elbus_broker_api_calls",
            "Calls of the .broker RPC methods, by method.",
            None,
        ),
        s.api
            .calls
            .iter()
            .enumerate()
            .map(|(i, &v)| ([("method", method_label(i))], v)),
    )?;
    counters(
        encoder,
        (
            "elbus_broker_api_errors",
            "Error replies of the .broker RPC methods, by method.",
            None,
        ),
        s.api
            .errors
            .iter()
            .enumerate()
            .map(|(i, &v)| ([("method", method_label(i))], v)),
    )?;
    counter(
        encoder,
        "elbus_broker_api_calls_refused",
        "Expensive .broker calls refused (-32118) because too many were queued.",
        s.api.refused,
    )?;
    counter(
        encoder,
        "elbus_broker_api_calls_abandoned",
        "Queued expensive .broker calls dropped unrun because their caller disconnected.",
        s.api.abandoned,
    )
}

/// The per-client families, one series per primary client (`--metrics-per-client`).
pub(super) fn per_client(encoder: &mut DescriptorEncoder, clients: &[ClientInfo]) -> fmt::Result {
    let labels = |c: &ClientInfo| -> [(&'static str, String); 2] {
        [
            ("client", c.name.clone()),
            ("transport", transport(c.kind).to_owned()),
        ]
    };
    counters(
        encoder,
        (
            "elbus_client_received_frames",
            "Frames received from the client.",
            None,
        ),
        clients.iter().map(|c| (labels(c), c.counters.r_frames)),
    )?;
    counters(
        encoder,
        (
            "elbus_client_received",
            "Body bytes of the frames received from the client.",
            Some(&Unit::Bytes),
        ),
        clients.iter().map(|c| (labels(c), c.counters.r_bytes)),
    )?;
    counters(
        encoder,
        (
            "elbus_client_dropped_frames",
            "Frames for the client dropped because its queue was full.",
            None,
        ),
        clients
            .iter()
            .map(|c| (labels(c), c.counters.dropped_frames)),
    )?;
    counters(
        encoder,
        (
            "elbus_client_access_denied",
            "The client's operations refused by the access-control rules.",
            None,
        ),
        clients.iter().map(|c| (labels(c), c.counters.denied)),
    )?;
    gauges(
        encoder,
        (
            "elbus_client_queued_frames",
            "Frames in the client's outbound queue now.",
            None,
        ),
        clients.iter().map(|c| (labels(c), gauge_value(c.queue))),
    )
}
