use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc(server = false, client = false)]
pub trait Calc {
    async fn add(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
