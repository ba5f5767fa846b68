//! A typed RPC service on a running elbus broker: the `Calc` trait of `examples/calc_api`,
//! served as `svc.calc` until Ctrl-C.
//!
//! ```text
//! target/debug/elbusd -B /tmp/elbus.sock &       # or any running elbus / BUS/RT broker
//! cargo run --example calc_server -- [PATH]
//! cargo run --example calc_client -- [PATH]      # in another terminal
//! ```
//!
//! PATH (a UNIX socket path or `host:port`) defaults to `/tmp/elbus.sock`. Any peer can call the
//! service with MessagePack params, e.g. Python with `busrt` (`examples/calc_client.py`), or
//! introspect it with the generated `rpc.describe` method. Every successful `calc.add` publishes
//! `calc/added`; `calc.history` is a pull stream of the last add results.

mod calc_api;

use calc_api::calculator::Calculator;
use calc_api::{Calc, DEFAULT_PATH, SERVICE_NAME};
use elbus::{ipc, AsyncClient};
use elbus_rpc::{RpcBus, RpcRouter};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_PATH.to_owned());
    let client = ipc::Client::connect(&ipc::Config::new(&path, SERVICE_NAME)).await?;
    // One router can mount several services; this one has just the calculator.
    let router = RpcRouter::new().service(Calculator::default().into_handler());
    // Keep `bus` alive: dropping its last clone stops serving. An `RpcBus` (rather than
    // `elbus_rpc::serve`) lets handlers publish events (`calc/added`) through their context.
    let bus = RpcBus::serve(client, router)?;
    let rpc = bus.rpc();
    println!("serving {SERVICE_NAME} on {path}; Ctrl-C to stop");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        // The broker went away: nothing left to serve.
        reason = rpc.closed() => eprintln!("disconnected from the broker: {reason}"),
    }
    if rpc.client().is_connected() {
        rpc.client().disconnect().await;
    }
    Ok(())
}
