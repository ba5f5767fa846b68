use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    async fn add(&self, a: i64) -> i64;
    async fn reset(&self);
}

fn main() {}
