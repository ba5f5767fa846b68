use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn add(&self, a: i64, #[rpc(rename = "a")] b: i64) -> Result<i64, Infallible>;
    async fn sub(&self, x: i64, #[rpc(alias = "x")] y: i64) -> Result<i64, Infallible>;
}

fn main() {}
