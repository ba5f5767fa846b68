//! A push-stream watch of the `calc` service (`examples/calc_api`): every add result from now
//! on, pushed by the server as notifications, never more than the credit ahead of this
//! consumer; plus the `calc/added` events, received on the same connection.
//!
//! ```text
//! target/debug/elbusd -B /tmp/elbus.sock &
//! cargo run --example calc_server -- [PATH]
//! cargo run --example calc_watch -- [PATH]        # then, elsewhere: cargo run --example calc_client
//! ```
//!
//! PATH (a UNIX socket path or `host:port`) defaults to `/tmp/elbus.sock`. Stops after
//! `--count N` results (default: runs until Ctrl-C).

mod calc_api;

use calc_api::{CalcClient, CalcEvent, DEFAULT_PATH, SERVICE_NAME};
use elbus::ipc;
use elbus_rpc::{RpcBus, DEFAULT_PUSH_CREDIT};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut path = DEFAULT_PATH.to_owned();
    let mut count = u64::MAX;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--count" => count = args.next().ok_or("--count needs a number")?.parse()?,
            other => path = other.to_owned(),
        }
    }
    let client = ipc::Client::connect(&ipc::Config::new(&path, "calc.watch")).await?;
    // One connection: typed calls, the push stream's notifications and the events.
    let bus = RpcBus::client(client)?;
    let mut events = bus.subscribe::<CalcEvent>().await?;
    let calc = CalcClient::new(bus.clone(), SERVICE_NAME);
    let mut watch = calc.watch().push(DEFAULT_PUSH_CREDIT);
    watch.ready().await?;
    println!("watching {SERVICE_NAME} on {path}; Ctrl-C to stop");
    let mut seen = 0;
    while seen < count {
        tokio::select! {
            item = watch.next() => match item {
                Some(Ok(added)) => {
                    seen += 1;
                    println!("pushed: {} + {} = {}", added.a, added.b, added.sum);
                }
                Some(Err(e)) => {
                    eprintln!("the watch ended: {e}");
                    break;
                }
                None => break,
            },
            event = events.recv() => match event {
                Ok(e) => println!("event {}: {:?}", e.topic, e.event),
                Err(e) => eprintln!("events: {e}"),
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}
