// `#[rpc(bytes)]` params and results, and `bytes = false` keeping an array of integers: no hint.
#![deny(deprecated)]
use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Store {
    async fn put(
        &self,
        #[rpc(bytes)] data: Vec<u8>,
        #[rpc(bytes)] extra: Option<Vec<u8>>,
        #[rpc(bytes = false)] samples: Vec<u8>,
    ) -> Result<usize, Infallible>;

    #[rpc(bytes)]
    async fn get(&self, key: String) -> Result<Vec<u8>, Infallible>;

    #[rpc(bytes)]
    async fn find(&self, key: String) -> Result<Option<Vec<u8>>, Infallible>;

    #[rpc(bytes)]
    async fn buf(&self) -> Result<serde_bytes::ByteBuf, Infallible>;

    #[rpc(bytes = false)]
    async fn samples(&self) -> Result<Vec<u8>, Infallible>;
}

fn main() {}
