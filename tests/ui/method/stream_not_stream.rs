use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Feed {
    #[rpc(stream)]
    fn history(&self) -> Result<u32, Infallible>;
    #[rpc(stream)]
    async fn live(&self) -> impl elbus_rpc::Stream<Item = Result<u32, Infallible>> + Send;
}

fn main() {}
