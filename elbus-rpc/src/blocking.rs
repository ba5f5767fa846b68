//! Typed calls from programs without an async runtime: [`BlockingRuntime`] owns a small Tokio
//! runtime, connects bus clients on it and runs calls to completion.
//!
//! ```no_run
//! # #[elbus_rpc::rpc(namespace = "calc")]
//! # pub trait Calc { async fn add(&self, a: i64, b: i64) -> Result<i64, std::convert::Infallible>; }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use elbus::ipc::Config;
//! use elbus_rpc::blocking::BlockingRuntime;
//!
//! let runtime = BlockingRuntime::new()?;
//! let rpc = runtime.connect(&Config::new("/tmp/elbus.sock", "cli.calc"))?;
//! let calc = CalcClient::new(rpc, "svc.calc");
//! let sum = runtime.block_on(calc.add(1, 2))?;
//! # Ok(()) }
//! ```
//!
//! Without this module the one-line recipe is a runtime of your own, with the RPC client created
//! inside it (it spawns its dispatch task):
//! `let rt = tokio::runtime::Runtime::new()?; let rpc = rt.block_on(async { RpcClient::new(Client::connect(&cfg).await?, DummyHandlers) })?; rt.block_on(CalcClient::new(rpc, "svc.calc").add(1, 2))`.

use std::future::IntoFuture;
use std::io;

use elbus::ipc::{Client, Config};
use elbus::rpc::{DummyHandlers, RpcClient};

/// A Tokio runtime for blocking callers: one worker thread, so the RPC clients' dispatch and
/// ping tasks keep running between calls (a socket client that went quiet would otherwise miss
/// its pings and be dropped by the broker's idle limit).
///
/// Do not use it from inside an async runtime: [`block_on`](Self::block_on) panics there.
#[derive(Debug)]
pub struct BlockingRuntime {
    runtime: tokio::runtime::Runtime,
}

impl BlockingRuntime {
    /// Starts the runtime (one worker thread, timers and I/O enabled).
    pub fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("elbus-rpc-blocking")
            .enable_all()
            .build()?;
        Ok(Self { runtime })
    }

    /// Runs `call` (an [`RpcCall`](crate::RpcCall) or any future) to completion on the runtime,
    /// blocking the current thread.
    pub fn block_on<F: IntoFuture>(&self, call: F) -> F::Output {
        self.runtime.block_on(call.into_future())
    }

    /// Connects a socket client with `config` and wraps it in an RPC client that only calls
    /// ([`DummyHandlers`]); its tasks run on this runtime.
    pub fn connect(&self, config: &Config) -> Result<RpcClient<Client>, elbus::Error> {
        self.block_on(async {
            let client = Client::connect(config).await?;
            RpcClient::new(client, DummyHandlers)
        })
    }

    /// Runs `f` inside the runtime's context, for APIs that must be called from within one
    /// (`RpcClient::new` over a client you connected yourself, [`serve`](crate::serve)).
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.runtime.enter();
        f()
    }

    /// The runtime itself, to spawn work on it.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }
}
