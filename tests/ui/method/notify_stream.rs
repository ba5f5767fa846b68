use elbus_rpc::rpc;

#[rpc]
pub trait Calc {
    #[rpc(notify, stream)]
    async fn history(&self);
}

fn main() {}
