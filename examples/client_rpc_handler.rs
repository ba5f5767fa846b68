//! An RPC service on a running elbus broker: connects over a socket and serves a few methods
//! until interrupted.
//!
//! ```text
//! cargo run --example client_rpc_handler -- [NAME] [PATH]
//! ```
//!
//! NAME defaults to `rpc.test`, PATH (a UNIX socket path or `host:port`) to `/tmp/elbus.sock`.
//! Methods (params and results are MessagePack):
//!
//! * `test`: no params, returns `{"ok": true}`;
//! * `echo`: returns the params unchanged (any bytes);
//! * `add`: params `{"a": i64, "b": i64}` (or `[a, b]`), returns `a + b`;
//! * `fail`: answers the error -777 with the message `requested failure`;
//! * anything else: -32601 (method not found).
//!
//! Notifications are printed. `cargo run --example client_rpc` calls it.

use std::collections::BTreeMap;

use elbus::rpc::{self, RpcClient, RpcError, RpcEvent, RpcHandlers, RpcResult};
use elbus::{ipc, AsyncClient};
use serde::Deserialize;

#[derive(Deserialize)]
struct AddParams {
    a: i64,
    b: i64,
}

struct Service;

impl RpcHandlers for Service {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        match event.parse_method()? {
            "test" => rpc::to_msgpack(&BTreeMap::from([("ok", true)])).map(Some),
            "echo" => Ok(Some(event.payload().to_vec())),
            "add" => {
                let params: AddParams = rpc::from_msgpack(event.payload())?;
                let sum = params.a.checked_add(params.b).ok_or_else(|| {
                    RpcError::with_message(rpc::RPC_ERROR_CODE_INVALID_METHOD_PARAMS, "overflow")
                })?;
                rpc::to_msgpack(&sum).map(Some)
            }
            "fail" => Err(RpcError::with_message(-777, "requested failure")),
            _ => Err(RpcError::method(None)),
        }
    }

    async fn handle_notification(&self, event: RpcEvent) {
        println!(
            "notification from {}: {}",
            event.sender(),
            String::from_utf8_lossy(event.payload())
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "rpc.test".to_owned());
    let path = args.next().unwrap_or_else(|| "/tmp/elbus.sock".to_owned());
    let client = ipc::Client::connect(&ipc::Config::new(&path, &name)).await?;
    // The RPC client pings the broker every half timeout, so an idle service stays connected.
    let rpc = RpcClient::new(client, Service)?;
    println!("serving {name} on {path}; Ctrl-C to stop");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        // The broker went away: nothing left to serve.
        _ = async {
            while rpc.is_connected() {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        } => eprintln!("disconnected from the broker"),
    }
    if rpc.client().is_connected() {
        rpc.client().disconnect().await;
    }
    Ok(())
}
