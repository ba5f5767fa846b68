use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn add<T>(&self, a: i64) -> Result<i64, Infallible>;
    async fn sub<'a>(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
