use std::convert::Infallible;
use elbus_rpc::{rpc, RpcContext};

#[rpc]
pub trait Calc {
    async fn whoami(&self, ctx: RpcContext) -> Result<String, Infallible>;
}

fn main() {}
