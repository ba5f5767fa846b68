//! A socket client that sends one message to `demo.listener`, one broadcast to `demo.*` and one
//! publication to `demo/news`, waiting for each ACK.
//!
//! Start a broker (`cargo run --release --bin elbusd`) and `client_listener`, then
//! `cargo run --example client_sender [SOCKET]` (default `/tmp/elbus.sock`).

use elbus::ipc::{Client, Config};
use elbus::{AsyncClient, Error, QoS};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/elbus.sock".to_owned());
    let client = Client::connect(&Config::new(&path, "demo.sender")).await?;
    // `?.await?`: the first `?` is handing the frame to the connection, the second the ACK.
    client
        .send("demo.listener", b"hello, listener", QoS::Processed)
        .await?
        .await?;
    client
        .send_broadcast("demo.*", b"hello, demo.*", QoS::Processed)
        .await?
        .await?;
    client
        .publish("demo/news", b"published to demo/news", QoS::Processed)
        .await?
        .await?;
    println!("sent a message, a broadcast and a publication; all acknowledged");
    Ok(())
}
