//! The client is `Clone + Send + Sync`, call futures and handler futures are `Send`, and the
//! handler can be moved into `tokio::spawn`; two services share one router.
use elbus_rpc::{rpc, Loopback, RpcContext, RpcRouter, RpcService};

#[derive(Debug, elbus_rpc::RpcError)]
pub enum E {
    /// Failed.
    #[rpc(code = 1)]
    Failed,
}

#[rpc(namespace = "a")]
pub trait A {
    /// A.
    async fn a(&self, x: u32) -> Result<u32, E>;
}

#[rpc(namespace = "b")]
pub trait B {
    /// B.
    async fn b(&self, x: String) -> Result<String, E>;
}

struct Both;
impl A for Both {
    async fn a(&self, x: u32) -> Result<u32, E> {
        Ok(x)
    }
}
impl B for Both {
    async fn b(&self, x: String) -> Result<String, E> {
        Ok(x)
    }
}

fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>(_: &T) {}
fn assert_send<T: Send>(_: &T) {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let shared = std::sync::Arc::new(Both);
    let router = RpcRouter::new()
        .service(AHandler::from_arc(shared.clone()))
        .service(BHandler::from_arc(shared));
    let transport = Loopback::new(router);
    let client = AClient::new(transport.clone(), "svc");
    assert_clone_send_sync(&client);
    assert_send(&client.a(1).send());
    assert_send(&std::future::IntoFuture::into_future(client.a(1)));

    let handler = A::into_handler(Both);
    let ctx = RpcContext::new("me", "a.a", 1);
    assert_send(&handler.dispatch(&ctx, &[]));
    let task = tokio::spawn(async move {
        let ctx = RpcContext::new("me", "a.a", 1);
        handler.dispatch(&ctx, &[0x91, 0x05]).await
    });
    assert_eq!(task.await.unwrap().unwrap(), vec![0x05]);
    let spawned = tokio::spawn(async move { client.a(7).await });
    assert_eq!(spawned.await.unwrap().unwrap(), 7);
    let b = BClient::new(transport, "svc");
    assert_eq!(b.b("x".into()).await.unwrap(), "x");
}
