use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn add(&self, #[rpc(renam = "x")] a: i64) -> Result<i64, Infallible>;
}

fn main() {}
