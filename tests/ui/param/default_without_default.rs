use std::convert::Infallible;
use elbus_rpc::rpc;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Mode(u8);

#[rpc]
pub trait Calc {
    async fn run(&self, #[rpc(default)] mode: Mode) -> Result<(), Infallible>;
}

fn main() {}
