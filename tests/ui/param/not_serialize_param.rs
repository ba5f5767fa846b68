use std::convert::Infallible;
use elbus_rpc::rpc;

pub struct Point {
    pub x: i64,
}

#[rpc]
pub trait Geo {
    async fn mirror(&self, p: Point) -> Result<(), Infallible>;
}

fn main() {}
