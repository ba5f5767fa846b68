use elbus_rpc::{rpc, RpcError};

// One real error (a missing code); the trait's uses of `CalcError` must add none.
#[derive(Debug, RpcError)]
pub enum CalcError {
    Overflow,
}

#[rpc]
pub trait Calc {
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    async fn sub(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    async fn neg(&self, a: i64) -> Result<i64, CalcError>;
}

fn main() {}
