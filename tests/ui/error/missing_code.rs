use elbus_rpc::RpcError;

#[derive(Debug, RpcError)]
pub enum CalcError {
    Overflow,
    #[rpc(code = 2, mesage = "x")]
    Underflow,
}

fn main() {}
