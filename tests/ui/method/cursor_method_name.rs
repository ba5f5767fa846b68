use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Feed {
    #[rpc(name = "NB")]
    async fn next_batch(&self) -> Result<u32, Infallible>;
    #[rpc(name = "rpc.cursor.close")]
    async fn close(&self) -> Result<(), Infallible>;
}

fn main() {}
