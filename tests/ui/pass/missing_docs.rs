//! Every generated public item is documented.
#![deny(missing_docs)]

use elbus_rpc::{rpc, RpcError};

/// Errors.
#[derive(Debug, RpcError)]
pub enum E {
    /// Failed.
    #[rpc(code = 1)]
    Failed,
}

/// A documented service.
#[rpc(namespace = "docs")]
pub trait Documented {
    /// A documented method.
    async fn one(&self, x: u32) -> Result<u32, E>;
    /// A documented notification.
    #[rpc(notify)]
    async fn two(&self);
}

fn main() {}
