// The hint is a deprecation warning; denying it here makes trybuild show it.
#![deny(deprecated)]
use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Store {
    async fn put(&self, key: String, data: Vec<u8>) -> Result<(), Infallible>;
}

fn main() {}
