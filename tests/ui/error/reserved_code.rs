use elbus_rpc::RpcError;

#[derive(Debug, RpcError)]
pub enum CalcError {
    #[rpc(code = -32601)]
    NotFound,
    #[rpc(code = -32000)]
    Edge,
}

fn main() {}
