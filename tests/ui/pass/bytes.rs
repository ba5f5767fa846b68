// `#[rpc(bytes)]` params, and `bytes = false` keeping an array of integers: no hint.
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
}

fn main() {}
