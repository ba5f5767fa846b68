//! `rpc listen|notify|call0|call`, over the byte RPC layer (`protocol.md` §9), and how RPC
//! errors become one-line reports.

use std::time::Duration;

use super::{payload_or_stdin, read_stdin, Context};
use crate::cli::args::{CallArgs, RpcCommand};
use crate::cli::error::{CliError, Failure};
use crate::cli::output::{Output, Style};
use crate::cli::params::Params;
use crate::cli::render::hex;
use crate::ipc::Client;
use crate::rpc::{
    DummyHandlers, RpcClient, RpcError, RpcEvent, RpcHandlers, RpcOptions, RpcResult,
};
use crate::{AsyncClient, Error, Frame, QoS};

/// Runs an `rpc` command.
pub(crate) async fn run(ctx: &Context<'_>, command: &RpcCommand) -> Result<(), CliError> {
    match command {
        RpcCommand::Listen { topics } => listen(ctx, topics).await,
        RpcCommand::Notify { target, payload } => {
            let payload = payload_or_stdin(payload.as_deref())?;
            let rpc = connect(ctx, DummyHandlers).await?;
            rpc.notify(target, &payload, QoS::Processed)
                .await
                .map_err(|err| rpc_error(format!("notify {target}"), &err))?;
            rpc.client().disconnect().await;
            ctx.out.ok()
        }
        RpcCommand::Call0(call) => {
            let params = params(call)?;
            let rpc = connect(ctx, DummyHandlers).await?;
            rpc.call0(&call.target, &call.method, &params, QoS::Processed)
                .await
                .map_err(|err| rpc_error(what(call), &err))?;
            rpc.client().disconnect().await;
            ctx.out.ok()
        }
        RpcCommand::Describe { target } => {
            let rpc = connect(ctx, DummyHandlers).await?;
            let reply = rpc
                .call(target, DESCRIBE_METHOD, &[], QoS::Processed)
                .await
                .map_err(|err| rpc_error(format!("describe {target}"), &err))?;
            rpc.client().disconnect().await;
            let schema = crate::cli::render::decode_msgpack(reply.payload())
                .map(|value| crate::cli::render::msgpack_to_json(&value))
                .ok_or_else(|| {
                    CliError::bus(
                        format!("describe {target}"),
                        &Error::data("the answer is not a MessagePack schema"),
                    )
                })?;
            match ctx.out.style() {
                Style::Human => ctx.out.line(describe_text(&schema).trim_end()),
                Style::Json => ctx.out.json(&schema, false),
                Style::Compact => ctx.out.json(&schema, true),
            }
        }
        RpcCommand::Call(call) => {
            let params = params(call)?;
            let rpc = connect(ctx, DummyHandlers).await?;
            let reply = rpc
                .call(&call.target, &call.method, &params, QoS::Processed)
                .await
                .map_err(|err| rpc_error(what(call), &err))?;
            rpc.client().disconnect().await;
            ctx.out.payload(reply.payload())
        }
    }
}

/// The method typed services answer with their schema (see `elbus-rpc`).
const DESCRIBE_METHOD: &str = "rpc.describe";

/// Renders an `rpc.describe` schema for a terminal: one block per service, one line per method
/// (`name(param: type, [optional: type]) -> result`), its doc, aliases and error codes.
fn describe_text(schema: &serde_json::Value) -> String {
    use std::fmt::Write;
    let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    let mut out = String::new();
    let services = schema["services"].as_array().cloned().unwrap_or_default();
    for service in &services {
        let _ = write!(out, "service {}", text(&service["name"]));
        if let Some(version) = service["version"].as_str() {
            let _ = write!(out, " {version}");
        }
        let _ = writeln!(out);
        if !text(&service["description"]).is_empty() {
            let _ = writeln!(out, "  {}", text(&service["description"]));
        }
        for method in service["methods"].as_array().into_iter().flatten() {
            let params: Vec<String> = method["params"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let param = format!("{}: {}", text(&p["name"]), text(&p["type"]));
                    if p["required"].as_bool() == Some(false) {
                        format!("[{param}]")
                    } else {
                        param
                    }
                })
                .collect();
            let notify = if method["notify"].as_bool() == Some(true) {
                "  (notify: no reply)".to_owned()
            } else {
                format!(" -> {}", text(&method["returns"]))
            };
            let _ = writeln!(
                out,
                "\n  {}({}){notify}",
                text(&method["name"]),
                params.join(", ")
            );
            if !text(&method["description"]).is_empty() {
                let _ = writeln!(out, "      {}", text(&method["description"]));
            }
            let aliases: Vec<String> = method["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            if !aliases.is_empty() {
                let _ = writeln!(out, "      aliases: {}", aliases.join(", "));
            }
            for error in method["errors"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "      error {} {}  {}",
                    error["code"],
                    text(&error["name"]),
                    text(&error["description"])
                );
            }
        }
    }
    out
}

fn what(call: &CallArgs) -> String {
    format!("call {} {}", call.target, call.method)
}

/// The call's params (read before connecting, so stdin is consumed first).
fn params(call: &CallArgs) -> Result<Vec<u8>, CliError> {
    Params::parse(&call.params)?.encode(read_stdin)
}

/// An RPC client over the command's connection, its calls bounded by `--timeout`.
pub(crate) async fn connect<H: RpcHandlers>(
    ctx: &Context<'_>,
    handlers: H,
) -> Result<RpcClient<Client>, CliError> {
    let client = ctx.connect(false).await?;
    rpc_over(client, handlers, ctx.args.timeout())
}

/// Wraps a connected client in an RPC client (which pings it every half timeout).
pub(crate) fn rpc_over<H: RpcHandlers>(
    client: Client,
    handlers: H,
    timeout: Duration,
) -> Result<RpcClient<Client>, CliError> {
    let name = client.name().to_owned();
    RpcClient::create(client, handlers, RpcOptions::new().timeout(timeout))
        .map_err(|err| CliError::bus(format!("starting RPC as {name}"), &err))
}

/// An RPC failure while doing `what`: a bus error (no such target, timeout, connection lost)
/// is classed as such; anything else is the remote handler's error reply (exit 1), shown as
/// `RPC error CODE (meaning): data`.
pub(crate) fn rpc_error(what: impl std::fmt::Display, err: &RpcError) -> CliError {
    if let Some(kind) = err.bus_error_kind() {
        let bus = match err.message() {
            Some(message) if !message.is_empty() => Error::new(kind, message),
            _ => Error::from_kind(kind),
        };
        return CliError::bus(what, &bus);
    }
    let meaning = match err.code() {
        -32700 => " (parse error)",
        -32600 => " (invalid request)",
        -32601 => " (method not found)",
        -32602 => " (invalid params)",
        -32603 => " (internal error)",
        -32001 => " (not found)",
        _ => "",
    };
    let data = match (err.message(), err.data()) {
        (Some(message), _) if !message.is_empty() => format!(": {message}"),
        (None, Some(data)) if !data.is_empty() => format!(": {}", hex(data)),
        _ => String::new(),
    };
    CliError::new(
        Failure::Remote,
        format!("{what}: RPC error {}{meaning}{data}", err.code()),
    )
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
    let rpc = connect(ctx, Printer { out: ctx.out }).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_errors_are_classed() {
        let err = rpc_error("call a m", &RpcError::method(None));
        assert_eq!(err.failure(), Failure::Remote);
        assert_eq!(
            err.message(),
            "call a m: RPC error -32601 (method not found)"
        );
        let err = rpc_error("c", &RpcError::with_message(-777, "boom\nagain"));
        assert_eq!(err.message(), "c: RPC error -777: boom again");
        let err = rpc_error("c", &RpcError::new(5, Some(vec![0xFF, 0x00])));
        assert_eq!(err.message(), "c: RPC error 5: ff00");
        let err = rpc_error("call x m", &RpcError::new(-32113, None));
        assert_eq!(err.failure(), Failure::NotRegistered);
        assert_eq!(err.message(), "call x m: target not registered");
        let err = rpc_error("c", &RpcError::with_message(-32120, "no reply within 5s"));
        assert_eq!(err.failure(), Failure::Timeout);
        assert_eq!(
            rpc_error("c", &RpcError::new(-32255, None)).failure(),
            Failure::Other
        );
    }
}
