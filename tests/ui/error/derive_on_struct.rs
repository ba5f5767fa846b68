use elbus_rpc::RpcError;

#[derive(Debug, RpcError)]
pub struct CalcError {
    code: i16,
}

#[derive(RpcError)]
pub union Raw {
    a: u32,
}

fn main() {}
