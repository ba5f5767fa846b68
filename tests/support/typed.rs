//! The typed services the `typed_*` and `cli_describe` tests serve on the bus: a `Calc` service
//! (results, `()`, typed errors, a notification, a renamed param, optional and default params,
//! the caller's identity, a method that never answers) and an `Echo` service sharing its router.

use std::convert::Infallible;
use std::sync::Arc;

use elbus_rpc::{rpc, RpcContext, RpcError, RpcRouter};
use tokio::sync::mpsc;

/// Errors of the test calculator.
#[derive(Debug, PartialEq, RpcError)]
pub enum CalcError {
    /// The result does not fit in an i64.
    #[rpc(code = 1001)]
    Overflow,
    /// The input was rejected.
    #[rpc(code = 1002)]
    BadInput(String),
}

/// The calculator the typed bus tests serve as `svc.calc`.
#[rpc(namespace = "calc", version = "1.0")]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    /// Sums a list, times `scale` (0 when it is missing).
    #[rpc(name = "sum_all", aliases = ["sum"])]
    async fn sum(&self, xs: Vec<i64>, #[rpc(default)] scale: i64) -> Result<i64, CalcError>;
    /// Greets `who` (sent as `name` by older callers), with an optional greeting.
    async fn greet(
        &self,
        #[rpc(rename = "who")] name: String,
        greeting: Option<String>,
    ) -> Result<String, CalcError>;
    /// The caller's client name and primary name.
    async fn whoami(&self, ctx: &RpcContext) -> Result<(String, String), CalcError>;
    /// Does nothing and returns `()`: an empty reply payload.
    async fn clear(&self) -> Result<(), CalcError>;
    /// Fails with `BadInput(msg)`.
    async fn fail(&self, msg: String) -> Result<(), CalcError>;
    /// One-way: reports the call to the test and answers nothing.
    #[rpc(notify)]
    async fn reset(&self, ctx: &RpcContext, reason: String);
    /// Reports that it started, then never answers.
    async fn hang(&self) -> Result<(), CalcError>;
}

/// A second service, mounted on the same router under its own namespace.
#[rpc(namespace = "echo")]
pub trait Echo {
    /// Returns `text` unchanged.
    async fn echo(&self, text: String) -> Result<String, Infallible>;
}

/// Client-only views of `svc.calc` that disagree with the server: a method it lacks, and
/// `calc.add` with params it can't decode.
#[rpc(namespace = "calc", server = false)]
pub trait CalcSkew {
    /// Not served.
    async fn nope(&self) -> Result<(), CalcError>;
    /// `calc.add` with strings where the server wants integers.
    async fn add(&self, a: String, b: String) -> Result<i64, CalcError>;
}

/// What the test service reports to the test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// `calc.reset` ran.
    Reset {
        /// The caller.
        sender: String,
        /// The byte layer's call id (0 for a notification).
        call_id: u32,
        /// The `reason` param.
        reason: String,
    },
    /// `calc.hang` started and will never answer.
    Hang,
}

/// The implementation of [`Calc`] and [`Echo`] the tests serve.
pub struct TestCalc {
    seen: mpsc::UnboundedSender<Seen>,
}

impl Calc for TestCalc {
    async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError> {
        a.checked_add(b).ok_or(CalcError::Overflow)
    }
    async fn sum(&self, xs: Vec<i64>, scale: i64) -> Result<i64, CalcError> {
        Ok(xs.iter().sum::<i64>() * scale)
    }
    async fn greet(&self, name: String, greeting: Option<String>) -> Result<String, CalcError> {
        Ok(format!(
            "{}, {name}",
            greeting.as_deref().unwrap_or("hello")
        ))
    }
    async fn whoami(&self, ctx: &RpcContext) -> Result<(String, String), CalcError> {
        Ok((ctx.sender().to_owned(), ctx.primary_sender().to_owned()))
    }
    async fn clear(&self) -> Result<(), CalcError> {
        Ok(())
    }
    async fn fail(&self, msg: String) -> Result<(), CalcError> {
        Err(CalcError::BadInput(msg))
    }
    async fn reset(&self, ctx: &RpcContext, reason: String) {
        let _ = self.seen.send(Seen::Reset {
            sender: ctx.sender().to_owned(),
            call_id: ctx.call_id(),
            reason,
        });
    }
    async fn hang(&self) -> Result<(), CalcError> {
        let _ = self.seen.send(Seen::Hang);
        std::future::pending().await
    }
}

impl Echo for TestCalc {
    async fn echo(&self, text: String) -> Result<String, Infallible> {
        Ok(text)
    }
}

/// A router serving [`Calc`] and [`Echo`] from one [`TestCalc`], and the receiver of its reports.
pub fn test_router() -> (RpcRouter, mpsc::UnboundedReceiver<Seen>) {
    let (seen, rx) = mpsc::unbounded_channel();
    let service = Arc::new(TestCalc { seen });
    let router = RpcRouter::new()
        .service(CalcHandler::from_arc(service.clone()))
        .service(EchoHandler::from_arc(service));
    (router, rx)
}

/// Serves `router` as `service` on a fresh `elbusd` (at `elbusd`, the binary under test) and
/// runs the Python caller `tests/interop/<script>` with `PATH py.caller SERVICE`; asserts
/// it exits 0 and prints `OK`. Run it from a multi-threaded runtime (`block_in_place`).
pub async fn python_calls_router(elbusd: &str, script: &str, service: &str, router: RpcRouter) {
    use crate::broker::{Broker, BrokerKind, Transport};
    use crate::wait::within;

    let broker = tokio::task::block_in_place(|| Broker::start(&BrokerKind::elbusd(elbusd)));
    let path = broker.path(Transport::Unix);
    let client = within(
        "connecting to elbusd",
        elbus::ipc::Client::connect(&elbus::ipc::Config::new(&path, service)),
    )
    .await
    .unwrap();
    let _server = elbus_rpc::serve(client, router).unwrap();
    let run = tokio::task::block_in_place(|| {
        crate::python::run_script(
            &crate::python::script(script),
            &[&path, "py.caller", service],
            std::time::Duration::from_secs(60),
        )
    });
    assert!(run.success(), "{run:?}");
    assert_eq!(run.stdout.trim(), "OK", "{run:?}");
}
