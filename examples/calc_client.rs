//! Calls the `calc_server` example through a running elbus broker with the typed client that
//! `#[rpc]` generates (`CalcClient`), and prints each result.
//!
//! ```text
//! target/debug/elbusd -B /tmp/elbus.sock &       # or any running elbus / BUS/RT broker
//! cargo run --example calc_server -- [PATH] &
//! cargo run --example calc_client -- [PATH]
//! ```
//!
//! PATH (a UNIX socket path or `host:port`) defaults to `/tmp/elbus.sock`; the service is called
//! as `svc.calc`. Typed errors come back as `CallError::App(CalcError::…)`, other failures
//! (timeouts, a missing service) as the other `CallError` variants.

mod calc_api;

use std::time::Duration;

use calc_api::{CalcClient, CalcError, DEFAULT_PATH, SERVICE_NAME};
use elbus::ipc;
use elbus::rpc::{DummyHandlers, RpcClient};
use elbus_rpc::CallError;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_PATH.to_owned());
    // A unique name, so several clients can run at once.
    let name = format!("calc.client.{}", std::process::id());
    let client = ipc::Client::connect(&ipc::Config::new(&path, &name)).await?;
    // The byte RPC client carries the typed calls; this one serves nothing itself.
    let rpc = RpcClient::new(client, DummyHandlers)?;
    let calc = CalcClient::new(rpc, SERVICE_NAME).with_timeout(Duration::from_secs(5));

    println!("add(2, 40) = {}", calc.add(2, 40).await?);
    println!("sum([1, 2, 3]) = {}", calc.sum(vec![1, 2, 3], None).await?);
    println!(
        "sum([1, 2, 3], scale 10) = {}",
        calc.sum(vec![1, 2, 3], Some(10)).await?
    );
    println!("hello() = {}", calc.hello(None).await?);
    println!("hello(\"Ada\") = {}", calc.hello(Some("Ada".into())).await?);
    // A typed error: the variant comes back, not just a code.
    match calc.div(1, 0).await {
        Err(CallError::App(CalcError::DivisionByZero)) => println!("div(1, 0): division by zero"),
        other => println!("div(1, 0): unexpected {other:?}"),
    }
    match calc.add(i64::MAX, 1).timeout(Duration::from_secs(1)).await {
        Err(CallError::App(e)) => println!("add(i64::MAX, 1): error {e:?}"),
        other => println!("add(i64::MAX, 1): unexpected {other:?}"),
    }
    // One-way: resolves once the broker accepted it; the server prints the reset.
    calc.reset().await?;
    println!("reset sent");
    Ok(())
}
