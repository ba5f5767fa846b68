use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc(timeout = "5 parsecs")]
pub trait Calc {
    #[rpc(timeout = "0s")]
    async fn add(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
