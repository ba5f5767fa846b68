//! RPC calls in flight when something dies, against the real `elbusd`: a callee (or its primary)
//! that disconnects fails its callers' calls at once with -32113, through the broker's `unreg`
//! announcement; a caller that loses its own connection fails its calls at once with -32255 and,
//! with a reconnect policy, calls again after the broker is back.
//!
//! The calls use a 60 s timeout: a test that passes did not wait for it (a timeout would be
//! -32120, which every assertion here rules out).

use std::time::Duration;

use elbus::ipc::{Client, Config, ConnectionState, ReconnectPolicy};
use elbus::rpc::{DummyHandlers, RpcClient, RpcEvent, RpcHandlers, RpcOptions, RpcResult};
use elbus::QoS;
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::WAIT;
use tokio::sync::mpsc;

const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// -32000 - 0x71: the target is not registered.
const NOT_REGISTERED: i16 = -32113;
/// -32000 - 0xFF: the connection is gone.
const EOF: i16 = -32255;

/// Serves `hang` (reports the call, never answers) and `echo`.
struct Callee {
    started: mpsc::UnboundedSender<()>,
}

impl RpcHandlers for Callee {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        if event.method() == b"hang" {
            let _ = self.started.send(());
            std::future::pending::<()>().await;
        }
        Ok(Some(event.payload().to_vec()))
    }
}

fn config(path: &str, name: &str) -> Config {
    Config::new(path, name).timeout(Duration::from_secs(10))
}

async fn callee(path: &str, name: &str) -> (RpcClient<Client>, mpsc::UnboundedReceiver<()>) {
    let (started, rx) = mpsc::unbounded_channel();
    let client = Client::connect(&config(path, name)).await.unwrap();
    (RpcClient::new(client, Callee { started }).unwrap(), rx)
}

async fn caller(config: Config) -> RpcClient<Client> {
    let client = Client::connect(&config).await.unwrap();
    let options = RpcOptions::new()
        .timeout(CALL_TIMEOUT)
        .fail_calls_on_unregister();
    RpcClient::create(client, DummyHandlers, options).unwrap()
}

/// Round-trips an `echo` call: its reply is handled by the caller's processor, which subscribes
/// to the announcements (ACKed) before it handles anything, so after this the subscription is in
/// place.
async fn echo(caller: &RpcClient<Client>, target: &str) {
    let reply = caller
        .call(target, "echo", b"hi", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(reply.payload(), b"hi");
}

async fn started(rx: &mut mpsc::UnboundedReceiver<()>) {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("the handler never started")
        .expect("the callee is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_a_callee_that_disconnects_fail_at_once() {
    let broker = Broker::start(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")));
    let path = broker.unix_path().to_string_lossy().into_owned();
    let caller = caller(config(&path, "caller")).await;
    let (callee_rpc, mut callee_started) = callee(&path, "callee").await;
    echo(&caller, "callee").await;

    // A call in flight (the handler runs and will never answer), then the callee goes.
    let call = {
        let caller = caller.clone();
        tokio::spawn(async move { caller.call("callee", "hang", b"", QoS::Processed).await })
    };
    started(&mut callee_started).await;
    callee_rpc.client().disconnect().await;
    let err = tokio::time::timeout(WAIT, call)
        .await
        .expect("the call still waits")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), NOT_REGISTERED, "{err}");
    assert_eq!(caller.pending_calls(), 0);

    // A call to a secondary fails when its primary goes (secondaries go with it).
    let (primary, _primary_started) = callee(&path, "svc").await;
    let secondary_client = primary.client().register_secondary().await.unwrap();
    let (started_tx, mut secondary_started) = mpsc::unbounded_channel();
    let _secondary = RpcClient::new(
        secondary_client,
        Callee {
            started: started_tx,
        },
    )
    .unwrap();
    let call = {
        let caller = caller.clone();
        tokio::spawn(async move { caller.call("svc%%0", "hang", b"", QoS::Processed).await })
    };
    started(&mut secondary_started).await;
    primary.client().disconnect().await;
    let err = tokio::time::timeout(WAIT, call)
        .await
        .expect("the call still waits")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), NOT_REGISTERED, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_loses_its_connection_fails_its_calls_and_calls_again_after_reconnecting() {
    let dir = TempDir::new("rpc-restart");
    let path = dir.join("stable.sock").to_string_lossy().into_owned();
    let kind = BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd"));
    let mut first = Broker::start_with_args(&kind, &["-B", &path]);
    let policy = ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    let caller = caller(config(&path, "caller").reconnect(Some(policy))).await;
    let mut states = caller.client().watch_connection();
    let (_callee, mut callee_started) = callee(&path, "callee").await;
    echo(&caller, "callee").await;
    let call = {
        let caller = caller.clone();
        tokio::spawn(async move { caller.call("callee", "hang", b"", QoS::Processed).await })
    };
    started(&mut callee_started).await;
    first.kill();
    let err = tokio::time::timeout(WAIT, call)
        .await
        .expect("the call still waits")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), EOF, "{err}");

    let _second = Broker::start_with_args(&kind, &["-B", &path]);
    tokio::time::timeout(WAIT, states.wait_for(|s| *s == ConnectionState::Connected))
        .await
        .expect("never reconnected")
        .unwrap();
    let (_callee, _started) = callee(&path, "callee").await;
    echo(&caller, "callee").await;
    assert!(caller.is_connected());
}
