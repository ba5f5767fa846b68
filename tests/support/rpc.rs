//! Helpers of the RPC tests (`rpc_*`, `typed_*`): an embedded broker on UNIX and TCP sockets,
//! the client kinds a scenario runs with ([`Via`], [`Connect`], and the transport matrix
//! [`on_every_transport!`](crate::on_every_transport)), and a byte RPC test service that
//! reports everything it receives.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use elbus::broker::{self, Broker, ServerConfig};
use elbus::rpc::{self, RpcError, RpcEvent, RpcHandlers, RpcResult};
use elbus::{ipc, AsyncClient, Frame};
use tokio::sync::{mpsc, Barrier, Notify};

pub use crate::wait::{within, WAIT};

/// Calls that must fail for another reason than their timeout get this one.
pub const FOREVER: Duration = Duration::from_secs(3600);
/// How many calls the concurrency scenario keeps in flight at once.
pub const CONCURRENT: usize = 8;

/// How a scenario's clients reach the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// In-process clients ([`Broker::register_client`]).
    InProcess,
    /// Socket clients over the UNIX socket.
    Unix,
    /// Socket clients over TCP.
    Tcp,
}

/// A client kind the scenarios run with: in-process or socket.
pub trait Connect: AsyncClient + Sized + 'static {
    /// Registers `name` on `bus` through `via`.
    fn connect(bus: &Bus, via: Via, name: &str) -> impl Future<Output = Self>;
}

impl Connect for broker::Client {
    async fn connect(bus: &Bus, _via: Via, name: &str) -> Self {
        bus.local(name)
    }
}

impl Connect for ipc::Client {
    async fn connect(bus: &Bus, via: Via, name: &str) -> Self {
        match via {
            Via::Tcp => bus.tcp(name).await,
            _ => bus.unix(name).await,
        }
    }
}

/// The transport matrix: runs each scenario `async fn NAME<C: Connect>(bus: &Bus, via: Via)` as
/// three tests, `NAME::in_process`, `NAME::unix` and `NAME::tcp`, each on a fresh [`Bus`].
#[macro_export]
macro_rules! on_every_transport {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use $crate::rpc::{Bus, Via};

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_process() {
                let bus = Bus::start().await;
                super::$scenario::<::elbus::broker::Client>(&bus, Via::InProcess).await;
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn unix() {
                let bus = Bus::start().await;
                super::$scenario::<::elbus::ipc::Client>(&bus, Via::Unix).await;
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tcp() {
                let bus = Bus::start().await;
                super::$scenario::<::elbus::ipc::Client>(&bus, Via::Tcp).await;
            }
        }
    )*};
}

/// Runs a bus operation and waits for its ACK, failing the test on any error.
pub async fn acked(op: impl Future<Output = Result<elbus::OpConfirm, elbus::Error>>) {
    within("an ACK", async { op.await.unwrap().await.unwrap() }).await
}

/// Waits until `cond` holds, checking it again every millisecond, for at most [`WAIT`].
pub async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
}

/// A broker serving UNIX and TCP sockets, plus in-process clients.
pub struct Bus {
    pub broker: Broker,
    pub unix: PathBuf,
    pub tcp: SocketAddr,
}

impl Bus {
    pub async fn start() -> Bus {
        Bus::start_with(ServerConfig::new()).await
    }

    pub async fn start_with(config: ServerConfig) -> Bus {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unix = std::env::temp_dir().join(format!(
            "elbus-rpc-{}-{}.sock",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let broker = Broker::new();
        broker
            .spawn_unix_server(&unix, config.clone())
            .await
            .unwrap();
        let tcp = broker
            .spawn_tcp_server("127.0.0.1:0", config)
            .await
            .unwrap();
        Bus { broker, unix, tcp }
    }

    pub fn local(&self, name: &str) -> elbus::broker::Client {
        self.broker.register_client(name).unwrap()
    }

    pub async fn unix(&self, name: &str) -> ipc::Client {
        let path = self.unix.to_str().unwrap();
        ipc::Client::connect(&ipc::Config::new(path, name))
            .await
            .unwrap()
    }

    pub async fn tcp(&self, name: &str) -> ipc::Client {
        ipc::Client::connect(&ipc::Config::new(&self.tcp.to_string(), name))
            .await
            .unwrap()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.broker.stop_listeners();
    }
}

/// What the test service saw.
#[derive(Debug)]
pub enum Seen {
    Call {
        method: String,
        id: u32,
        sender: String,
        params: Vec<u8>,
    },
    Notification {
        sender: String,
        data: Vec<u8>,
    },
    Frame(Frame),
}

/// The service under test: a few methods, and a report of everything it receives.
pub struct Svc {
    seen: mpsc::UnboundedSender<Seen>,
    barrier: Arc<Barrier>,
    gate: Arc<Notify>,
}

impl Svc {
    pub fn new() -> (Svc, mpsc::UnboundedReceiver<Seen>, Arc<Notify>) {
        let (seen, rx) = mpsc::unbounded_channel();
        let gate = Arc::new(Notify::new());
        let svc = Svc {
            seen,
            barrier: Arc::new(Barrier::new(CONCURRENT)),
            gate: gate.clone(),
        };
        (svc, rx, gate)
    }
}

impl RpcHandlers for Svc {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        let method = event.parse_method()?.to_owned();
        // Reported before the method runs, so tests know a call is in the handler.
        let _ = self.seen.send(Seen::Call {
            method: method.clone(),
            id: event.id(),
            sender: event.sender().to_owned(),
            params: event.payload().to_vec(),
        });
        match method.as_str() {
            "echo" => Ok(Some(event.payload().to_vec())),
            "empty" => Ok(None),
            "fail" => Err(RpcError::with_message(-777, "boom")),
            "panic" => panic!("a handler panic, on purpose"),
            "hang" => std::future::pending().await,
            "barrier" => {
                self.barrier.wait().await;
                Ok(Some(event.payload().to_vec()))
            }
            "gate" => {
                self.gate.notified().await;
                Ok(Some(b"late".to_vec()))
            }
            "whoami" => rpc::to_msgpack(&(event.sender(), event.primary_sender())).map(Some),
            "add" => {
                let (a, b): (i64, i64) = rpc::from_msgpack(event.payload())?;
                rpc::to_msgpack(&(a + b)).map(Some)
            }
            _ => Err(RpcError::method(None)),
        }
    }

    async fn handle_notification(&self, event: RpcEvent) {
        let _ = self.seen.send(Seen::Notification {
            sender: event.sender().to_owned(),
            data: event.payload().to_vec(),
        });
    }

    async fn handle_frame(&self, frame: Frame) {
        let _ = self.seen.send(Seen::Frame(frame));
    }
}

pub async fn next_seen(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    within("the service to see something", rx.recv())
        .await
        .expect("the service is gone")
}

/// Waits for the service to start handling `method`, skipping nothing else.
pub async fn started(rx: &mut mpsc::UnboundedReceiver<Seen>, method: &str) -> u32 {
    match next_seen(rx).await {
        Seen::Call { method: m, id, .. } if m == method => id,
        other => panic!("expected a call of {method}, got {other:?}"),
    }
}
