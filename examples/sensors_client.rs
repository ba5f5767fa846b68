//! Calls the `sensors_server` example with the generated client: see `sensors_api::tour`.
//!
//! ```text
//! cargo run --example sensors_client -- [PATH]
//! ```

mod sensors_api;

use elbus::ipc;
use elbus::rpc::{DummyHandlers, RpcClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/elbus.sock".to_owned());
    let client = ipc::Client::connect(&ipc::Config::new(&path, "sensors.client")).await?;
    let rpc = RpcClient::new(client, DummyHandlers)?;
    let sensors = sensors_api::SensorsClient::new(rpc, sensors_api::SERVICE_NAME);
    for line in sensors_api::tour(&sensors).await {
        println!("{line}");
    }
    Ok(())
}
