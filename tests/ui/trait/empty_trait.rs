use elbus_rpc::rpc;

#[rpc(namespace = "calc")]
pub trait Calc {}

fn main() {}
