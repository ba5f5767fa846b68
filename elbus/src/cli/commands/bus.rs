//! `send`, `publish` and `listen`: plain bus operations, each acknowledged by the broker.

use super::{is_mask, payload_or_stdin};
use crate::cli::args::ListenArgs;
use crate::cli::context::Context;
use crate::cli::error::{CliError, Failure};
use crate::{AsyncClient, Error, OpConfirm, QoS};

/// Awaits an operation and its ACK; a failure of either is reported as failing `what`.
pub(crate) async fn acked(
    what: impl std::fmt::Display,
    op: impl std::future::Future<Output = Result<OpConfirm, Error>>,
) -> Result<(), CliError> {
    let confirm = op.await.map_err(|err| CliError::bus(&what, &err))?;
    confirm.await.map_err(|err| CliError::bus(&what, &err))
}

/// `send TARGET [PAYLOAD]`: a message, or a broadcast to a mask; prints OK after the ACK.
pub(crate) async fn send(
    ctx: &Context<'_>,
    target: &str,
    payload: Option<&str>,
) -> Result<(), CliError> {
    let payload = payload_or_stdin(payload)?;
    let client = ctx.connect(false).await?;
    if is_mask(target) {
        acked(
            format!("broadcast to {target}"),
            client.send_broadcast(target, &payload, QoS::Processed),
        )
        .await?;
    } else {
        acked(
            format!("send to {target}"),
            client.send(target, &payload, QoS::Processed),
        )
        .await?;
    }
    client.disconnect().await;
    ctx.out.ok()
}

/// `publish TOPIC [PAYLOAD]`; prints OK after the ACK.
pub(crate) async fn publish(
    ctx: &Context<'_>,
    topic: &str,
    payload: Option<&str>,
) -> Result<(), CliError> {
    let payload = payload_or_stdin(payload)?;
    let client = ctx.connect(false).await?;
    acked(
        format!("publish to {topic}"),
        client.publish(topic, &payload, QoS::Processed),
    )
    .await?;
    client.disconnect().await;
    ctx.out.ok()
}

/// `listen`: excludes, then subscribes (each ACKed), says so on stderr, then prints every
/// frame until the connection ends (an error: exit 5) or the process is interrupted.
pub(crate) async fn listen(ctx: &Context<'_>, listen: &ListenArgs) -> Result<(), CliError> {
    let client = ctx.connect(true).await?;
    let mut events = client
        .take_event_channel()
        .ok_or_else(|| CliError::new(Failure::Other, "the event channel is already taken"))?;
    if !listen.exclude.is_empty() {
        let topics: Vec<&str> = listen.exclude.iter().map(String::as_str).collect();
        acked(
            "excluding topics",
            client.exclude_bulk(&topics, QoS::Processed),
        )
        .await?;
    }
    if !listen.topics.is_empty() {
        let topics: Vec<&str> = listen.topics.iter().map(String::as_str).collect();
        acked(
            "subscribing to topics",
            client.subscribe_bulk(&topics, QoS::Processed),
        )
        .await?;
    }
    ctx.out.status(&format!(
        "listening as {} (topics: {})",
        client.name(),
        if listen.topics.is_empty() {
            "none".to_owned()
        } else {
            listen.topics.join(" ")
        }
    ));
    while let Some(frame) = events.recv().await {
        tracing::info!("incoming frame {} byte(s)", frame.payload().len());
        ctx.out.frame(&frame)?;
    }
    Err(CliError::new(
        Failure::Other,
        format!("{}: the connection to the broker was lost", ctx.args.path),
    ))
}
