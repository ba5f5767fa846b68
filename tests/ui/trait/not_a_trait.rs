use elbus_rpc::rpc;

#[rpc(namespace = "calc")]
pub struct Calc {
    total: i64,
}

fn main() {}
