//! The expansion names everything by absolute paths, and honours a renamed runtime crate.
#![no_implicit_prelude]

extern crate elbus_rpc;
extern crate elbus_rpc as renamed_rpc;
extern crate std;

#[derive(::std::fmt::Debug, elbus_rpc::RpcError)]
#[rpc(crate = "::renamed_rpc")]
pub enum KvError {
    /// Missing.
    #[rpc(code = 1)]
    Missing,
    /// Other.
    #[rpc(code = 2)]
    Other(::std::string::String),
}

/// A key-value store.
#[elbus_rpc::rpc(namespace = "kv", crate = "::renamed_rpc", timeout = "1s")]
pub trait Kv {
    /// Reads a key.
    async fn get(
        &self,
        key: ::std::string::String,
        default: ::std::option::Option<::std::vec::Vec<u8>>,
    ) -> ::std::result::Result<::std::vec::Vec<u8>, KvError>;
    /// Writes a key.
    async fn set(
        &self,
        key: ::std::string::String,
        #[rpc(default)] ttl: u64,
        ctx: &elbus_rpc::RpcContext,
    ) -> ::std::result::Result<(), KvError>;
    /// Clears everything.
    #[rpc(notify)]
    async fn clear(&self);
}

fn main() {}
