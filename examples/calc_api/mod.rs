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

// Each example uses part of the service.
#![allow(dead_code)]

use elbus_rpc::{rpc, RpcContext, RpcError};

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
}

/// A small calculator.
#[rpc(namespace = "calc", version = "1.0")]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    /// Divides `a` by `b`, rounding toward zero.
    async fn div(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    /// Sums `xs`, times `scale` (1 when not sent).
    async fn sum(&self, xs: Vec<i64>, scale: Option<i64>) -> Result<i64, CalcError>;
    /// Greets `name` (or the caller, when no name is sent) and tells who called.
    async fn hello(&self, name: Option<String>, ctx: &RpcContext) -> Result<String, CalcError>;
    /// Resets the call counter: a one-way call, nothing is answered.
    #[rpc(notify)]
    async fn reset(&self, ctx: &RpcContext);
}
