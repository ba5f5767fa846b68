use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    type Output;
    const LIMIT: u32;
    async fn add(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
