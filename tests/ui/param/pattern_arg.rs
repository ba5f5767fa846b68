use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn add(&self, (a, b): (i64, i64)) -> Result<i64, Infallible>;
    async fn ignore(&self, _: i64) -> Result<i64, Infallible>;
}

fn main() {}
