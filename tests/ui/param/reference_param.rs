use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn greet(&self, name: &str, data: &[u8]) -> Result<(), Infallible>;
}

fn main() {}
