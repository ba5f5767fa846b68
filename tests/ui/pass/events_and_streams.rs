//! An event enum linked to a service with a pull stream: the trait, handler, client and
//! schema build, the stream client is `Send`, and the schema lists events and streams.

use std::convert::Infallible;

use elbus_rpc::{rpc, Loopback, PullStream, RpcEvent, RpcRouter, Stream};

/// What the calculator publishes.
#[derive(Debug, Clone, PartialEq, RpcEvent)]
#[rpc(namespace = "calc")]
pub enum CalcEvent {
    /// After an add.
    Added { a: i64, b: i64, sum: i64 },
    /// A room's total.
    #[rpc(topic = "calc/room/{room}")]
    Room { room: String, total: i64 },
    /// A reset.
    Reset,
}

/// A calculator.
#[rpc(namespace = "calc", events = CalcEvent)]
pub trait Calc {
    /// Adds.
    async fn add(&self, a: i64, b: i64) -> Result<i64, Infallible>;
    /// The last sums.
    #[rpc(stream)]
    fn history(&self, limit: u32) -> impl Stream<Item = Result<i64, Infallible>> + Send;
}

fn assert_send<T: Send>(_: &T) {}

fn main() {
    assert_eq!(CalcEvent::EVENTS.len(), 3);
    assert_eq!(CalcEvent::EVENTS[1].pattern, "calc/room/+");
    let _: fn(&CalcClient<Loopback>) -> PullStream<i64, Infallible> = |c| c.history(3);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let client = CalcClient::new(Loopback::new(RpcRouter::new()), "svc.calc");
        let stream = client.history(3);
        assert_send(&stream);
    });
}
