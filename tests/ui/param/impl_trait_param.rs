use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn greet(&self, name: impl Into<String>) -> Result<(), Infallible>;
}

fn main() {}
