//! An embedded broker with in-process clients, showing all three patterns: a one-to-one
//! message, a broadcast to a name mask and a publication to a topic with wildcards.
//!
//! Run it with `cargo run --example inter_thread`; it needs no running broker.

use std::time::Duration;

use elbus::broker::Broker;
use elbus::{AsyncClient, Error, QoS};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let broker = Broker::new();
    let sender = broker.register_client("demo.sender")?;
    let worker = broker.register_client("demo.worker")?;
    let mut events = worker
        .take_event_channel()
        .expect("a new client's event channel is there to take");
    worker.subscribe("sensors/+/temp", QoS::Processed).await?;

    sender
        .send("demo.worker", b"hello, worker", QoS::Processed)
        .await?;
    sender
        .send_broadcast("demo.*", b"hello, everyone in demo", QoS::Processed)
        .await?;
    sender
        .publish("sensors/kitchen/temp", b"21.5", QoS::Processed)
        .await?;

    for _ in 0..3 {
        let frame = tokio::time::timeout(Duration::from_secs(1), events.recv())
            .await
            .map_err(|_| Error::timeout())?
            .ok_or_else(Error::eof)?;
        println!(
            "{:?} from {} (topic {:?}): {}",
            frame.kind(),
            frame.sender(),
            frame.topic(),
            String::from_utf8_lossy(frame.payload())
        );
    }
    Ok(())
}
