//! `()` results, notifications, trailing `Option` params, raw identifiers with `rename`,
//! `impl Future` signatures, the context param by attribute, and server/client-only services.
use std::convert::Infallible;
use std::future::Future;

use elbus_rpc::{rpc, RpcContext};

#[rpc]
pub trait Shapes {
    /// `()` result.
    async fn unit(&self) -> Result<(), Infallible>;
    /// A notification with a context.
    #[rpc(notify)]
    async fn ping(&self, ctx: &RpcContext);
    /// Trailing optionals.
    async fn page(&self, from: u32, limit: Option<u32>, cursor: Option<String>) -> Result<Vec<u32>, Infallible>;
    /// A raw identifier, renamed on the wire.
    async fn r#type(&self, #[rpc(rename = "kind")] r#type: String, #[rpc(context)] c: &elbus_rpc::RpcContext) -> Result<String, Infallible>;
    /// Written without `async`.
    fn later(&self, n: u8) -> impl Future<Output = Result<u8, Infallible>> + Send;
}

#[rpc(server = false)]
pub trait ClientOnly {
    /// Only the client is generated.
    async fn call(&self) -> Result<(), Infallible>;
}

#[rpc(client = false)]
pub trait ServerOnly {
    /// Only the handler is generated.
    async fn call(&self) -> Result<(), Infallible>;
}

struct S;
impl Shapes for S {
    async fn unit(&self) -> Result<(), Infallible> {
        Ok(())
    }
    async fn ping(&self, _ctx: &RpcContext) {}
    async fn page(&self, from: u32, limit: Option<u32>, _cursor: Option<String>) -> Result<Vec<u32>, Infallible> {
        Ok((from..from + limit.unwrap_or(1)).collect())
    }
    async fn r#type(&self, r#type: String, _c: &RpcContext) -> Result<String, Infallible> {
        Ok(r#type)
    }
    fn later(&self, n: u8) -> impl Future<Output = Result<u8, Infallible>> + Send {
        async move { Ok(n) }
    }
}

fn main() {
    let _ = S.into_handler();
    let schema = S::schema();
    assert_eq!(schema.methods[3].name, "type");
    assert_eq!(schema.methods[3].params[0].name, "kind");
    assert_eq!(schema.methods[3].params[0].aliases, &["type"]);
    assert!(!schema.methods[2].params[1].required);
}
