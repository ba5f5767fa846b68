use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    #[rpc(notify)]
    async fn reset(&self) -> Result<(), Infallible>;
}

fn main() {}
