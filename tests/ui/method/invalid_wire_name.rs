use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    #[rpc(name = "")]
    async fn empty(&self) -> Result<(), Infallible>;
    #[rpc(name = "two words")]
    async fn spaced(&self) -> Result<(), Infallible>;
    #[rpc(name = "caf\u{e9}")]
    async fn accented(&self) -> Result<(), Infallible>;
    #[rpc(name = "nul\0byte")]
    async fn nul(&self) -> Result<(), Infallible>;
}

fn main() {}
