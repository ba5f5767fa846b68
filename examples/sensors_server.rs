//! The `Sensors` service of `examples/sensors_api`, served as `svc.sensors` until the connection
//! ends or Ctrl-C.
//!
//! ```text
//! target/debug/elbusd -B /tmp/elbus.sock &
//! cargo run --example sensors_server -- [PATH]
//! cargo run --example sensors_client -- [PATH]     # or: python examples/sensors_client.py [PATH]
//! ```

mod sensors_api;

use elbus::ipc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/elbus.sock".to_owned());
    let client = ipc::Client::connect(&ipc::Config::new(&path, sensors_api::SERVICE_NAME)).await?;
    // Keep `server`: dropping it stops the service.
    let server = elbus_rpc::serve(client, sensors_api::router())?;
    println!(
        "serving {} on {path}; Ctrl-C to stop",
        sensors_api::SERVICE_NAME
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        reason = server.closed() => eprintln!("stopped: {reason}"),
    }
    Ok(())
}
