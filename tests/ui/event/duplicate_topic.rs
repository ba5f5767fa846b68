use elbus_rpc::RpcEvent;

#[derive(RpcEvent)]
#[rpc(namespace = "calc")]
pub enum CalcEvent {
    Added { sum: i64 },
    #[rpc(topic = "calc/added")]
    AlsoAdded { sum: i64 },
    #[rpc(topic = "calc/room/{room}")]
    Room { room: String },
    #[rpc(topic = "calc/room/{name}")]
    Named { name: String },
}

fn main() {}
