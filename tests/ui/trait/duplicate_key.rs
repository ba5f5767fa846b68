use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc(namespace = "calc", namespace = "calc2")]
pub trait Calc {
    async fn add(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
