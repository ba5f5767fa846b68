// A plain `Vec<u8>` result gets the hint too; denying it here makes trybuild show it.
#![deny(deprecated)]
use std::convert::Infallible;
use elbus_rpc::rpc;

#[rpc]
pub trait Store {
    async fn get(&self, key: String) -> Result<Vec<u8>, Infallible>;
}

fn main() {}
