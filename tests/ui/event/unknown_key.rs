use elbus_rpc::RpcEvent;

#[derive(RpcEvent)]
#[rpc(namespace = "calc")]
pub enum CalcEvent {
    #[rpc(topic = "calc/added/{room}")]
    Added { sum: i64 },
    #[rpc(topic = "calc/bad+/x")]
    Wild,
    Tuple(i64),
}

fn main() {}
