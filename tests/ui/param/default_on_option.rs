use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn page(&self, #[rpc(default)] limit: Option<u32>) -> Result<(), Infallible>;
}

fn main() {}
