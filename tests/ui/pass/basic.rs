//! The example: a service, an error enum, an implementation, a router and a client.
use elbus_rpc::{rpc, Loopback, RpcError, RpcRouter};

#[derive(Debug, RpcError)]
pub enum CalcError {
    /// Overflow.
    #[rpc(code = 1001)]
    Overflow,
    /// Bad input.
    #[rpc(code = 1002)]
    BadInput(String),
}

#[rpc(namespace = "calc")]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    #[rpc(notify)]
    async fn reset(&self);
}

struct Impl;

impl Calc for Impl {
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError> {
        a.checked_add(b).ok_or(CalcError::Overflow)
    }
    async fn reset(&self) {}
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let router = RpcRouter::new().service(Impl.into_handler());
    let client = CalcClient::new(Loopback::new(router), "svc.calc");
    assert_eq!(client.add(1, 2).await.unwrap(), 3);
    client.reset().await.unwrap();
    let _ = CalcError::BadInput(String::new());
}
