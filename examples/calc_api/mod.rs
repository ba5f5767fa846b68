//! The `Calc` service the `calc_server` and `calc_client` examples share: one `#[rpc]` trait
//! gives the server its handler (`CalcHandler`) and the client its stub (`CalcClient`).
//!
//! On the wire (what a Python peer sends and receives, see `examples/calc_client.py`):
//!
//! | method | params (MessagePack map, or an array in this order) | result |
//! |---|---|---|
//! | `calc.add` | `{"a": int, "b": int}` | int; error 1001 on overflow |
//! | `calc.div` | `{"a": int, "b": int}` | int; error 1002 when `b` is 0 |
//! | `calc.sum` | `{"xs": [int], "scale": int}` (`scale` optional, 1 when missing) | int |
//! | `calc.hello` | `{"name": str}` (optional) | str, naming the caller |
//! | `calc.reset` | none; one-way (call id 0) | nothing |
//! | `calc.watch` | none | a stream of every later add result (open it with `rpc.stream.open` as a push stream) |
//! | `calc.history` | `{"limit": int}` | a pull stream: `{"u": <16 bytes>}`, then `NB {"u", "n"}` gives arrays of `{"a", "b", "sum"}` (the most recent adds, oldest first, at most `limit`) |
//!
//! Each successful `calc.add` publishes the event `calc/added` with the payload
//! `{"a": int, "b": int, "sum": int}` (`CalcEvent::Added`).

// Each example uses part of the service.
#![allow(dead_code)]

pub mod calculator;

use elbus_rpc::schemars::JsonSchema;
use elbus_rpc::{rpc, RpcContext, RpcError, RpcEvent, Stream};
use serde::{Deserialize, Serialize};

/// The bus name `calc_server` registers and `calc_client` calls.
pub const SERVICE_NAME: &str = "svc.calc";

/// The default broker socket of both examples (the first argument overrides it).
pub const DEFAULT_PATH: &str = "/tmp/elbus.sock";

/// What the calculator can fail with; each variant has a stable wire code.
#[derive(Debug, RpcError)]
pub enum CalcError {
    /// The result does not fit in an i64.
    #[rpc(code = 1001)]
    Overflow,
    /// Division by zero.
    #[rpc(code = 1002)]
    DivisionByZero,
    /// A `calc.watch` consumer fell too far behind; its stream ends.
    #[rpc(code = 1003)]
    Lagged,
}

/// What the calculator publishes.
#[derive(Debug, Clone, PartialEq, Eq, RpcEvent)]
#[rpc(namespace = "calc")]
pub enum CalcEvent {
    /// Published after every successful `calc.add`.
    Added { a: i64, b: i64, sum: i64 },
}

/// One add result: an item of `calc.history`, the same map as the `calc/added` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "elbus_rpc::schemars")]
pub struct Added {
    pub a: i64,
    pub b: i64,
    pub sum: i64,
}

/// A small calculator.
#[rpc(namespace = "calc", version = "1.0", events = CalcEvent)]
pub trait Calc {
    /// Adds two numbers, and publishes `calc/added`.
    async fn add(&self, a: i64, b: i64, ctx: &RpcContext) -> Result<i64, CalcError>;
    /// Divides `a` by `b`, rounding toward zero.
    async fn div(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    /// Sums `xs`, times `scale` (1 when not sent).
    async fn sum(&self, xs: Vec<i64>, scale: Option<i64>) -> Result<i64, CalcError>;
    /// Greets `name` (or the caller, when no name is sent) and tells who called.
    async fn hello(&self, name: Option<String>, ctx: &RpcContext) -> Result<String, CalcError>;
    /// Resets the call counter: a one-way call, nothing is answered.
    #[rpc(notify)]
    async fn reset(&self, ctx: &RpcContext);
    /// The most recent add results, oldest first, at most `limit` (the server keeps the last
    /// `calculator::HISTORY`).
    #[rpc(stream)]
    fn history(&self, limit: u32) -> impl Stream<Item = Result<Added, CalcError>> + Send;
    /// Every add result from the moment it is opened: a live feed, best opened as a push
    /// stream; a consumer more than `calculator::WATCH_BUFFER` behind gets `Lagged`.
    #[rpc(stream)]
    fn watch(&self) -> impl Stream<Item = Result<Added, CalcError>> + Send;
}
