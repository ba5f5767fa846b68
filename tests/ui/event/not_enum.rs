use elbus_rpc::RpcEvent;

#[derive(RpcEvent)]
#[rpc(namespace = "calc")]
pub struct Added {
    pub sum: i64,
}

fn main() {}
