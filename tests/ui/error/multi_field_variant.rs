use elbus_rpc::RpcError;

#[derive(Debug, RpcError)]
pub enum CalcError {
    #[rpc(code = 1)]
    Range(i64, i64),
    #[rpc(code = 2)]
    Count(u32),
}

fn main() {}
