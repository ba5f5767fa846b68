//! A typed RPC service on a running elbus broker: the `Calc` trait of `examples/calc_api`,
//! served as `svc.calc` until Ctrl-C.
//!
//! ```text
//! target/debug/elbusd -B /tmp/elbus.sock &       # or any running elbus / BUS/RT broker
//! cargo run --example calc_server -- [PATH]
//! cargo run --example calc_client -- [PATH]      # in another terminal
//! ```
//!
//! PATH (a UNIX socket path or `host:port`) defaults to `/tmp/elbus.sock`. Any peer can call the
//! service with MessagePack params, e.g. Python with `busrt` (`examples/calc_client.py`), or
//! introspect it with the generated `rpc.describe` method.

mod calc_api;

use std::sync::atomic::{AtomicU64, Ordering};

use calc_api::{Calc, CalcError, DEFAULT_PATH, SERVICE_NAME};
use elbus::{ipc, AsyncClient};
use elbus_rpc::{RpcContext, RpcRouter};

/// The service state: how many calls it answered since the last reset.
#[derive(Default)]
struct Calculator {
    calls: AtomicU64,
}

impl Calculator {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl Calc for Calculator {
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError> {
        self.count();
        a.checked_add(b).ok_or(CalcError::Overflow)
    }

    async fn div(&self, a: i64, b: i64) -> Result<i64, CalcError> {
        self.count();
        match b {
            0 => Err(CalcError::DivisionByZero),
            _ => a.checked_div(b).ok_or(CalcError::Overflow),
        }
    }

    async fn sum(&self, xs: Vec<i64>, scale: Option<i64>) -> Result<i64, CalcError> {
        self.count();
        xs.iter()
            .try_fold(0i64, |acc, x| acc.checked_add(*x))
            .and_then(|sum| sum.checked_mul(scale.unwrap_or(1)))
            .ok_or(CalcError::Overflow)
    }

    async fn hello(&self, name: Option<String>, ctx: &RpcContext) -> Result<String, CalcError> {
        self.count();
        let name = name.as_deref().unwrap_or(ctx.primary_sender());
        Ok(format!("hello, {name} (called by {})", ctx.sender()))
    }

    async fn reset(&self, ctx: &RpcContext) {
        let calls = self.calls.swap(0, Ordering::Relaxed);
        println!("reset by {} after {calls} calls", ctx.sender());
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_PATH.to_owned());
    let client = ipc::Client::connect(&ipc::Config::new(&path, SERVICE_NAME)).await?;
    // One router can mount several services; this one has just the calculator.
    let router = RpcRouter::new().service(Calculator::default().into_handler());
    // Keep `rpc` alive: dropping its last clone stops serving.
    let rpc = elbus_rpc::serve(client, router)?;
    println!("serving {SERVICE_NAME} on {path}; Ctrl-C to stop");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        // The broker went away: nothing left to serve.
        reason = rpc.closed() => eprintln!("disconnected from the broker: {reason}"),
    }
    if rpc.client().is_connected() {
        rpc.client().disconnect().await;
    }
    Ok(())
}
