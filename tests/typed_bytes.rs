//! `#[rpc(bytes)]` params and results over a real bus: a typed Rust client sends params as
//! MessagePack `bin` (checked by decoding the params the service received) and reads `bin`
//! results (checked on the raw reply), and a Python `busrt` peer calling through `elbusd` sends
//! Python `bytes` that arrive whole and gets `bytes` back (`tests/interop/typed_bytes.py`).

use elbus_rpc::{rpc, serve, RpcRouter};
use elbus_suite::rpc::{within, Bus};
use elbus_suite::typed::python_calls_router;
use std::convert::Infallible;

/// The bus name the store service is registered under.
const SVC: &str = "svc.store";

/// Stores blobs.
#[rpc(namespace = "store")]
pub trait Store {
    /// What arrived: the blob's bytes (as a list of integers, so the caller can compare them
    /// whatever its own encoding), and the optional tag's.
    async fn put(
        &self,
        #[rpc(bytes)] data: Vec<u8>,
        #[rpc(bytes)] tag: Option<Vec<u8>>,
    ) -> Result<(Vec<u16>, Option<Vec<u16>>), Infallible>;

    /// `len` bytes counting up from 0 (wrapping), as `bin`.
    #[rpc(bytes)]
    async fn fill(&self, len: u16) -> Result<Vec<u8>, Infallible>;

    /// The blob back, or nothing for an empty one, as `bin` or nil.
    #[rpc(bytes)]
    async fn echo(&self, #[rpc(bytes)] data: Vec<u8>) -> Result<Option<Vec<u8>>, Infallible>;
}

struct Echo;

impl Store for Echo {
    async fn put(
        &self,
        data: Vec<u8>,
        tag: Option<Vec<u8>>,
    ) -> Result<(Vec<u16>, Option<Vec<u16>>), Infallible> {
        let wide = |b: Vec<u8>| b.into_iter().map(u16::from).collect();
        Ok((wide(data), tag.map(wide)))
    }

    async fn fill(&self, len: u16) -> Result<Vec<u8>, Infallible> {
        Ok((0..len).map(|i| i as u8).collect())
    }

    async fn echo(&self, data: Vec<u8>) -> Result<Option<Vec<u8>>, Infallible> {
        Ok((!data.is_empty()).then_some(data))
    }
}

fn router() -> RpcRouter {
    RpcRouter::new().service(Echo.into_handler())
}

#[tokio::test]
async fn rust_client_sends_bin() {
    let bus = Bus::start().await;
    let _server = serve(bus.local(SVC), router()).unwrap();
    let rpc = elbus::rpc::RpcClient::new(bus.local("caller"), elbus::rpc::DummyHandlers).unwrap();
    let store = StoreClient::new(rpc, SVC);

    let call = store.put(vec![0, 255, 7], Some(b"t".to_vec()));
    // The params on the wire: a map whose values are MessagePack `bin`, not arrays.
    let params: rmpv::Value = rmp_serde::from_slice(call.params().unwrap()).unwrap();
    assert_eq!(
        params,
        rmpv::Value::Map(vec![
            ("data".into(), rmpv::Value::Binary(vec![0, 255, 7])),
            ("tag".into(), rmpv::Value::Binary(b"t".to_vec())),
        ])
    );
    assert_eq!(
        within("the store", call.send()).await,
        Ok((vec![0, 255, 7], Some(vec![u16::from(b't')])))
    );
    assert_eq!(
        within("the store", store.put(Vec::new(), None).send()).await,
        Ok((Vec::new(), None))
    );
}

#[tokio::test]
async fn bytes_results_travel_as_bin() {
    let bus = Bus::start().await;
    let _server = serve(bus.local(SVC), router()).unwrap();
    let rpc = elbus::rpc::RpcClient::new(bus.local("caller"), elbus::rpc::DummyHandlers).unwrap();

    // The raw reply is MessagePack `bin`, not an array.
    let params =
        rmp_serde::to_vec_named(&std::collections::BTreeMap::from([("len", 300)])).unwrap();
    let raw = within(
        "the raw fill call",
        rpc.call(SVC, "store.fill", &params, elbus::QoS::Processed),
    )
    .await
    .unwrap();
    let expected: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
    assert_eq!(
        rmp_serde::from_slice::<rmpv::Value>(raw.payload()).unwrap(),
        rmpv::Value::Binary(expected.clone())
    );

    // The typed client reads it back, and an `Option` of bytes both ways.
    let store = StoreClient::new(rpc, SVC);
    assert_eq!(within("fill", store.fill(300).send()).await, Ok(expected));
    assert_eq!(within("fill 0", store.fill(0).send()).await, Ok(Vec::new()));
    assert_eq!(
        within("echo", store.echo(vec![9, 0, 9]).send()).await,
        Ok(Some(vec![9, 0, 9]))
    );
    assert_eq!(
        within("echo empty", store.echo(Vec::new()).send()).await,
        Ok(None)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn python_bytes_arrive_whole() {
    python_calls_router(
        env!("CARGO_BIN_EXE_elbusd"),
        "typed_bytes.py",
        SVC,
        router(),
    )
    .await;
}
