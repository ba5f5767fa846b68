// `bytes` on a method is about its result; a method without one is refused.
use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Store {
    #[rpc(bytes)]
    async fn clear(&self) -> Result<(), Infallible>;

    #[rpc(notify, bytes)]
    async fn poke(&self);
}

fn main() {}
