use elbus_rpc::rpc;

#[derive(Debug)]
pub enum CalcError {
    Overflow,
}

#[rpc]
pub trait Calc {
    async fn add(&self, a: i64) -> Result<i64, CalcError>;
}

fn main() {}
