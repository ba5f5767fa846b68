use std::convert::Infallible;
use elbus_rpc::rpc;

pub enum PlainEvent {
    Added { sum: i64 },
}

#[rpc(namespace = "calc", events = PlainEvent)]
pub trait Calc {
    async fn add(&self, a: i64, b: i64) -> Result<i64, Infallible>;
}

fn main() {}
