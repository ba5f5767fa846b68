use std::convert::Infallible;
use elbus_rpc::rpc;

use elbus_rpc::RpcContext;

#[rpc]
pub trait Calc {
    async fn two(&self, a: &RpcContext, b: &RpcContext) -> Result<(), Infallible>;
    async fn renamed(&self, #[rpc(rename = "ctx")] ctx: &RpcContext) -> Result<(), Infallible>;
    async fn wrong_type(&self, #[rpc(context)] ctx: String) -> Result<(), Infallible>;
}

fn main() {}
