use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    #[rpc(timout = "1s")]
    async fn add(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
