//! A socket client that subscribes to topics and prints every frame it receives until Ctrl-C.
//!
//! Start a broker (`cargo run --release --bin elbusd`), then
//! `cargo run --example client_listener [SOCKET] [TOPIC...]`; the defaults are
//! `/tmp/elbus.sock` and `demo/#`. Pair it with `client_sender`.

use elbus::ipc::{Client, Config};
use elbus::{AsyncClient, Error, QoS};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "/tmp/elbus.sock".to_owned());
    let mut topics: Vec<String> = args.collect();
    if topics.is_empty() {
        topics.push("demo/#".to_owned());
    }
    // The broker drops clients that stay silent past its idle limit; ping well within it.
    let config = Config::new(&path, "demo.listener")
        .ping_interval(Some(std::time::Duration::from_millis(500)));
    let client = Client::connect(&config).await?;
    let mut events = client.take_event_channel().ok_or_else(Error::eof)?;
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    client
        .subscribe_bulk(&topics, QoS::Processed)
        .await?
        .await?;
    println!("listening on {path} as demo.listener, topics {topics:?}");
    loop {
        tokio::select! {
            frame = events.recv() => {
                let Some(frame) = frame else {
                    println!("the broker closed the connection");
                    return Ok(());
                };
                println!(
                    "{:?} from {}{}: {}",
                    frame.kind(),
                    frame.sender(),
                    frame.topic().map(|t| format!(" on {t}")).unwrap_or_default(),
                    String::from_utf8_lossy(frame.payload())
                );
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
