use elbus_rpc::RpcError;

#[derive(Debug, RpcError)]
pub enum CalcError {
    #[rpc(code = 1, message = "value {value} above {limit}")]
    Range { value: i64, max: i64 },
    #[rpc(code = 2, message = "channel {2}")]
    Pair(u8, u8),
}

fn main() {}
