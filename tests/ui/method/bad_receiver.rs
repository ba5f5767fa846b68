use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn by_value(self) -> Result<i64, Infallible>;
    async fn by_mut(&mut self) -> Result<i64, Infallible>;
}

fn main() {}
