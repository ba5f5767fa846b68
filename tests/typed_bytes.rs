//! `#[rpc(bytes)]` params over a real bus: a typed Rust client sends them as MessagePack `bin`
//! (checked by decoding the params the service received), and a Python `busrt` peer calling
//! through `elbusd` sends Python `bytes` that arrive whole (`tests/interop/typed_bytes.py`).

use elbus::ipc;
use elbus_rpc::{rpc, serve, RpcRouter};
use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::python::{run_script, script};
use elbus_suite::rpc::{within, Bus};
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

#[tokio::test(flavor = "multi_thread")]
async fn python_bytes_arrive_whole() {
    let broker = tokio::task::block_in_place(|| {
        Broker::start(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")))
    });
    let path = broker.path(Transport::Unix);
    let client = within(
        "connecting to elbusd",
        ipc::Client::connect(&ipc::Config::new(&path, SVC)),
    )
    .await
    .unwrap();
    let _server = serve(client, router()).unwrap();
    let run = tokio::task::block_in_place(|| {
        run_script(
            &script("typed_bytes.py"),
            &[&path, "py.caller", SVC],
            std::time::Duration::from_secs(60),
        )
    });
    assert!(run.success(), "{run:?}");
    assert_eq!(run.stdout.trim(), "OK", "{run:?}");
}
