use elbus_rpc::RpcError;

#[derive(Debug, RpcError)]
pub enum CalcError {
    #[rpc(code = 1001)]
    Overflow,
    #[rpc(code = 1001)]
    Underflow,
}

fn main() {}
