use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc(namespace = "rpc")]
pub trait Calc {
    async fn describe(&self) -> Result<String, Infallible>;
}

fn main() {}
