use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn name(&self) -> Result<&'static str, Infallible>;
    async fn digits(&self) -> Result<impl Iterator<Item = u8>, Infallible>;
}

fn main() {}
