//! An embedded broker that serves its own RPC methods next to `.broker`: the internal client
//! `.app` answers `hello` and `uptime`, and any socket client can call it.
//!
//! Run it with `cargo run --example broker_custom_rpc [SOCKET]` (default
//! `/tmp/elbus-custom.sock`), then, from another terminal:
//! `cargo run --bin elbus -- /tmp/elbus-custom.sock rpc call .app hello name=you`.

use std::time::Instant;

use elbus::broker::{Broker, ServerConfig};
use elbus::broker_api::BrokerApi;
use elbus::rpc::{from_msgpack, to_msgpack, RpcClient, RpcError, RpcEvent, RpcHandlers, RpcResult};
use elbus::Error;

/// The methods of `.app`.
struct AppMethods {
    started: Instant,
}

#[derive(serde::Deserialize)]
struct HelloParams {
    name: Option<String>,
}

impl RpcHandlers for AppMethods {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        match event.parse_method()? {
            "hello" => {
                let params: HelloParams = if event.payload().is_empty() {
                    HelloParams { name: None }
                } else {
                    from_msgpack(event.payload())?
                };
                let name = params.name.as_deref().unwrap_or("stranger");
                Ok(Some(to_msgpack(&format!("hello, {name}"))?))
            }
            "uptime" => Ok(Some(to_msgpack(&self.started.elapsed().as_secs())?)),
            _ => Err(RpcError::method(None)),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/elbus-custom.sock".to_owned());
    let broker = Broker::new();
    // `.broker` itself: announcements and the standard methods.
    let _core = BrokerApi::start(&broker)?;
    // Our own service: internal clients may use `.`-prefixed names, socket clients may not.
    let _app = RpcClient::new(
        broker.register_client(".app")?,
        AppMethods {
            started: Instant::now(),
        },
    )?;
    broker.spawn_unix_server(&path, ServerConfig::new()).await?;
    println!("serving .broker and .app on {path}; Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    broker.stop_listeners();
    Ok(())
}
