// The README's old serving line: the returned client is dropped at once and the service stops.
// `#[must_use]` on it says so (denied here so that trybuild shows the message).
#![deny(unused_must_use)]

fn start<C: elbus::AsyncClient + 'static>(client: C) -> Result<(), elbus::Error> {
    elbus_rpc::serve(client, elbus_rpc::RpcRouter::new())?;
    Ok(())
}

fn main() {
    let _ = start::<elbus::broker::Client>;
}
