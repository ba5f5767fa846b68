//! `broker test|info|stats|client.list`: the `.broker` RPC API (`protocol.md` §8.8), shown as
//! a payload or as tables, or as JSON.

use rmpv::Value;
use serde_json::Value as Json;

use crate::cli::args::BrokerCommand;
use crate::cli::context::Context;
use crate::cli::error::{rpc_error, CliError, Failure};
use crate::cli::output::Style;
use crate::cli::render::{decode_msgpack, msgpack_to_json};
use crate::cli::table::{thousands, Align, Table};
use crate::protocol::BROKER_NAME;
use crate::rpc::DummyHandlers;
use crate::QoS;

/// Runs a `broker` command.
pub(crate) async fn run(ctx: &Context<'_>, command: BrokerCommand) -> Result<(), CliError> {
    let method = match command {
        BrokerCommand::Test => "test",
        BrokerCommand::Info => "info",
        BrokerCommand::Stats => "stats",
        BrokerCommand::ClientList => "client.list",
    };
    let rpc = ctx.connect_rpc(DummyHandlers).await?;
    let reply = rpc
        .call(BROKER_NAME, method, &[], QoS::Processed)
        .await
        .map_err(|err| rpc_error(format!("call {BROKER_NAME} {method}"), &err))?;
    rpc.client().disconnect().await;
    if command == BrokerCommand::Test {
        return ctx.out.payload(reply.payload());
    }
    let value = decode_msgpack(reply.payload()).ok_or_else(|| {
        CliError::new(
            Failure::Other,
            format!("{BROKER_NAME} {method}: the reply is not MessagePack"),
        )
    })?;
    match command {
        BrokerCommand::ClientList => client_list(ctx, &value),
        _ => fields(ctx, &value, method),
    }
}

/// `info` and `stats`: a two-column `field value` table of the reply map, in its order.
fn fields(ctx: &Context<'_>, value: &Value, method: &str) -> Result<(), CliError> {
    let Value::Map(pairs) = value else {
        return Err(not_a_map(method));
    };
    if ctx.out.style() == Style::Json {
        return ctx.out.json(&msgpack_to_json(value), false);
    }
    let mut table = Table::new(&[("field", Align::Left), ("value", Align::Left)]);
    for (key, value) in pairs {
        table.row(vec![cell(key), cell(value)]);
    }
    ctx.out.bytes(table.render().as_bytes())
}

/// `client.list`: one row per client, this CLI's own connection left out.
fn client_list(ctx: &Context<'_>, value: &Value) -> Result<(), CliError> {
    let clients = field(value, "clients")
        .and_then(Value::as_array)
        .ok_or_else(|| not_a_map("client.list"))?;
    let others: Vec<&Value> = clients
        .iter()
        .filter(|client| field(client, "name").and_then(Value::as_str) != Some(&ctx.name))
        .collect();
    if ctx.out.style() == Style::Json {
        let list: Vec<Json> = others
            .iter()
            .map(|client| msgpack_to_json(client))
            .collect();
        return ctx.out.json(&Json::Array(list), false);
    }
    // (header, field in the reply, alignment)
    const COLUMNS: [(&str, &str, Align); 10] = [
        ("name", "name", Align::Left),
        ("type", "kind", Align::Left),
        ("source", "source", Align::Left),
        ("port", "port", Align::Left),
        ("r_frames", "r_frames", Align::Right),
        ("r_bytes", "r_bytes", Align::Right),
        ("w_frames", "w_frames", Align::Right),
        ("w_bytes", "w_bytes", Align::Right),
        ("queue", "queue", Align::Right),
        ("ins", "instances", Align::Right),
    ];
    let headers: Vec<(&str, Align)> = COLUMNS.iter().map(|(h, _, a)| (*h, *a)).collect();
    let mut table = Table::new(&headers);
    for client in others {
        table.row(
            COLUMNS
                .iter()
                .map(|(_, key, _)| field(client, key).map(cell).unwrap_or_default())
                .collect(),
        );
    }
    ctx.out.bytes(table.render().as_bytes())
}

/// The value of `key` in a MessagePack map.
fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// A table cell: text as is, integers with `_` separators, nil blank, the rest as JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Nil => String::new(),
        Value::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Value::Integer(int) => int
            .as_i64()
            .map(i128::from)
            .or_else(|| int.as_u64().map(i128::from))
            .map(thousands)
            .unwrap_or_default(),
        other => msgpack_to_json(other).to_string(),
    }
}

fn not_a_map(method: &str) -> CliError {
    CliError::new(
        Failure::Other,
        format!("{BROKER_NAME} {method}: unexpected reply shape"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(cell(&Value::Nil), "");
        assert_eq!(cell(&Value::from("x")), "x");
        assert_eq!(cell(&Value::from(1_234_567u64)), "1_234_567");
        assert_eq!(cell(&Value::from(-5i64)), "-5");
        assert_eq!(cell(&Value::Boolean(true)), "true");
        let map = Value::Map(vec![(Value::from("name"), Value::from("a"))]);
        assert_eq!(field(&map, "name"), Some(&Value::from("a")));
        assert_eq!(field(&map, "kind"), None);
        assert_eq!(field(&Value::Nil, "kind"), None);
    }
}
