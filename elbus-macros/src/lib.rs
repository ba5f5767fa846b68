//! The `#[rpc]` procedural macro of elbus typed RPC; users depend on `elbus-rpc`, which re-exports it.
use proc_macro::TokenStream;
/// x
#[proc_macro_attribute]
pub fn rpc(_a: TokenStream, i: TokenStream) -> TokenStream { i }
/// x
#[proc_macro_derive(RpcError, attributes(rpc))]
pub fn derive_rpc_error(_i: TokenStream) -> TokenStream { TokenStream::new() }
