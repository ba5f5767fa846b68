use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc(timeout = 5, version = 1)]
pub trait Calc {
    async fn add(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
