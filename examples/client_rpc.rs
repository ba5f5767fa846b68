//! Calls the methods of the `client_rpc_handler` example service and prints the results.
//!
//! ```text
//! cargo run --example client_rpc_handler &      # the service, on a running broker
//! cargo run --example client_rpc -- [TARGET] [PATH]
//! ```
//!
//! TARGET defaults to `rpc.test`, PATH (a UNIX socket path or `host:port`) to `/tmp/elbus.sock`.
//! Each call is bounded by a 5 s timeout; errors are printed with their RPC code.

use std::collections::BTreeMap;
use std::time::Duration;

use elbus::rpc::{self, DummyHandlers, RpcClient, RpcOptions};
use elbus::{ipc, QoS};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "rpc.test".to_owned());
    let path = args.next().unwrap_or_else(|| "/tmp/elbus.sock".to_owned());
    let name = format!("rpc.example.caller.{}", std::process::id());
    let client = ipc::Client::connect(&ipc::Config::new(&path, &name)).await?;
    let rpc = RpcClient::create(
        client,
        DummyHandlers,
        RpcOptions::new().timeout(Duration::from_secs(5)),
    )?;

    let reply = rpc.call(&target, "test", b"", QoS::Processed).await?;
    let ok: BTreeMap<String, bool> = rpc::from_msgpack(reply.payload())?;
    println!("test -> {ok:?}");

    let reply = rpc.call(&target, "echo", b"hello", QoS::Processed).await?;
    println!("echo -> {:?}", String::from_utf8_lossy(reply.payload()));

    let params = rpc::to_msgpack(&BTreeMap::from([("a", 2), ("b", 40)]))?;
    let reply = rpc
        .call(&target, "add", &params, QoS::RealtimeProcessed)
        .await?;
    println!("add 2 40 -> {}", rpc::from_msgpack::<i64>(reply.payload())?);

    for method in ["fail", "no.such.method"] {
        match rpc.call(&target, method, b"", QoS::Processed).await {
            Ok(reply) => println!("{method} -> unexpected reply {:?}", reply.payload()),
            Err(err) => println!("{method} -> {err}"),
        }
    }

    rpc.notify(&target, b"bye from client_rpc", QoS::Processed)
        .await?;
    println!("notified {target}");
    rpc.client().disconnect().await;
    Ok(())
}
