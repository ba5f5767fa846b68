use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc(namespace = "calc")]
pub trait Calc {
    async fn add(&self, a: i64) -> Result<i64, Infallible>;
    #[rpc(aliases = ["sum", "add"])]
    async fn total(&self, a: i64) -> Result<i64, Infallible>;
}

fn main() {}
