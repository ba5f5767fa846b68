use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn get<'a>(&'a self) -> Result<i64, Infallible>;
}

fn main() {}
