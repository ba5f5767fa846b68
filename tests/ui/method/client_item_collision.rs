use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn new(&self) -> Result<(), Infallible>;
    async fn with_timeout(&self) -> Result<(), Infallible>;
    async fn schema(&self) -> Result<(), Infallible>;
}

fn main() {}
