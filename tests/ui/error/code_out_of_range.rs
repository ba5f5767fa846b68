use elbus_rpc::RpcError;

#[derive(Debug, RpcError)]
pub enum CalcError {
    #[rpc(code = 40000)]
    TooBig,
    #[rpc(code = "7")]
    NotANumber,
}

fn main() {}
