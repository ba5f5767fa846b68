use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc<T> {
    async fn add(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
