//! `rpc listen|notify|call0|call|describe`, over the byte RPC layer (`protocol.md` §9).

use std::time::Duration;

use super::{payload_or_stdin, read_stdin};
use crate::cli::args::{CallArgs, RpcCommand};
use crate::cli::context::Context;
use crate::cli::error::{rpc_error, CliError, Failure};
use crate::cli::output::{Output, Style};
use crate::cli::params::Params;
use crate::rpc::{DummyHandlers, RpcEvent, RpcHandlers, RpcResult};
use crate::{AsyncClient, Error, Frame, QoS};

/// Runs an `rpc` command.
pub(crate) async fn run(ctx: &Context<'_>, command: &RpcCommand) -> Result<(), CliError> {
    match command {
        RpcCommand::Listen { topics } => listen(ctx, topics).await,
        RpcCommand::Notify { target, payload } => {
            let payload = payload_or_stdin(payload.as_deref())?;
            let rpc = ctx.connect_rpc(DummyHandlers).await?;
            rpc.notify(target, &payload, QoS::Processed)
                .await
                .map_err(|err| rpc_error(format!("notify {target}"), &err))?;
            rpc.client().disconnect().await;
            ctx.out.ok()
        }
        RpcCommand::Call0(call) => {
            let params = params(call)?;
            let rpc = ctx.connect_rpc(DummyHandlers).await?;
            rpc.call0(&call.target, &call.method, &params, QoS::Processed)
                .await
                .map_err(|err| rpc_error(what(call), &err))?;
            rpc.client().disconnect().await;
            ctx.out.ok()
        }
        RpcCommand::Describe { target } => {
            let schema = describe(ctx, target).await?;
            match ctx.out.style() {
                Style::Human => ctx
                    .out
                    .line(crate::cli::schema_text::describe_text(&schema).trim_end()),
                Style::Json => ctx.out.json(&schema, false),
                Style::Compact => ctx.out.json(&schema, true),
            }
        }
        RpcCommand::Codegen { target, schema, .. } => {
            let schema = match schema {
                Some(path) => crate::cli::codegen::read_schema_file(path)?,
                None => describe(ctx, target).await?,
            };
            let module = crate::cli::codegen::python(&schema, target)?;
            ctx.out.bytes(module.as_bytes())
        }
        RpcCommand::Call(call) => {
            let params = params(call)?;
            let rpc = ctx.connect_rpc(DummyHandlers).await?;
            let reply = rpc
                .call(&call.target, &call.method, &params, QoS::Processed)
                .await
                .map_err(|err| rpc_error(what(call), &err))?;
            rpc.client().disconnect().await;
            ctx.out.payload(reply.payload())
        }
    }
}

/// Calls `target`'s `rpc.describe`; its schema as JSON.
async fn describe(ctx: &Context<'_>, target: &str) -> Result<serde_json::Value, CliError> {
    let rpc = ctx.connect_rpc(DummyHandlers).await?;
    let reply = rpc
        .call(target, DESCRIBE_METHOD, &[], QoS::Processed)
        .await
        .map_err(|err| rpc_error(format!("describe {target}"), &err))?;
    rpc.client().disconnect().await;
    crate::cli::render::decode_msgpack(reply.payload())
        .map(|value| crate::cli::render::msgpack_to_json(&value))
        .ok_or_else(|| {
            CliError::bus(
                format!("describe {target}"),
                &Error::data("the answer is not a MessagePack schema"),
            )
        })
}

/// The method typed services answer with their schema (see `elbus-rpc`).
const DESCRIBE_METHOD: &str = "rpc.describe";

fn what(call: &CallArgs) -> String {
    format!("call {} {}", call.target, call.method)
}

/// The call's params (read before connecting, so stdin is consumed first).
fn params(call: &CallArgs) -> Result<Vec<u8>, CliError> {
    Params::parse(&call.params)?.encode(read_stdin)
}

/// Prints what `rpc listen` receives; every call gets an empty reply.
struct Printer {
    out: Output,
}

impl Printer {
    fn print(&self, what: &str, event: &RpcEvent) {
        let method = (what == "call").then(|| String::from_utf8_lossy(event.method()));
        if let Err(err) = self.out.rpc_event(
            what,
            method.as_deref(),
            event.sender(),
            event.primary_sender(),
            event.payload(),
        ) {
            tracing::warn!("{err}");
        }
    }
}

impl RpcHandlers for Printer {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        self.print("call", &event);
        Ok(None)
    }

    async fn handle_notification(&self, event: RpcEvent) {
        self.print("notification", &event);
    }

    async fn handle_frame(&self, frame: Frame) {
        if let Err(err) = self.out.frame(&frame) {
            tracing::warn!("{err}");
        }
    }
}

/// `rpc listen`: serves until the connection ends (exit 5) or the process is interrupted.
async fn listen(ctx: &Context<'_>, topics: &[String]) -> Result<(), CliError> {
    let rpc = ctx.connect_rpc(Printer { out: ctx.out }).await?;
    if !topics.is_empty() {
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        super::bus::acked(
            "subscribing to topics",
            rpc.client().subscribe_bulk(&topics, QoS::Processed),
        )
        .await?;
    }
    ctx.out
        .status(&format!("listening as {} (RPC)", rpc.client().name()));
    // The RPC client offers no "closed" signal; checking at the keepalive pace is enough to
    // notice a lost broker.
    let every = (ctx.args.timeout() / 2).max(Duration::from_millis(50));
    while rpc.is_connected() {
        tokio::time::sleep(every).await;
    }
    Err(CliError::new(
        Failure::Other,
        format!("{}: the connection to the broker was lost", ctx.args.path),
    ))
}
