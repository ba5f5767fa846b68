//! The `tracing` feature: a span around every client call (`rpc.client`) and every call a
//! router serves (`rpc.server`), at debug level, with the method, the peer, the result code
//! (0 for success) and the duration in microseconds.

use std::future::Future;
use std::time::Instant;

use tracing::field::Empty;
use tracing::Instrument;

use crate::context::RpcContext;
use crate::error::{CallError, RpcErrorCode, ServerError, CODE_TIMEOUT};

/// Runs a served call in an `rpc.server` span: `method`, `sender`, `code`, `duration_us`.
pub(crate) async fn server<F>(ctx: &RpcContext, call: F) -> F::Output
where
    F: Future<Output = Result<Vec<u8>, ServerError>>,
{
    let span = tracing::debug_span!(
        "rpc.server",
        method = ctx.method(),
        sender = ctx.sender(),
        code = Empty,
        duration_us = Empty
    );
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    span.record("code", result.as_ref().err().map_or(0, ServerError::code));
    span.record("duration_us", micros(started));
    result
}

/// Runs a client call in an `rpc.client` span: `method`, `target`, `code`, `duration_us`.
pub(crate) async fn client<R, E, F>(target: &str, method: &str, call: F) -> F::Output
where
    E: RpcErrorCode,
    F: Future<Output = Result<R, CallError<E>>>,
{
    let span = tracing::debug_span!(
        "rpc.client",
        method,
        target,
        code = Empty,
        duration_us = Empty
    );
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    match &result {
        Ok(_) => drop(span.record("code", 0)),
        Err(err) => match call_error_code(err) {
            Some(code) => drop(span.record("code", code)),
            None => drop(span.record("code", "codec")),
        },
    }
    span.record("duration_us", micros(started));
    result
}

/// The wire code a failed call stands for; `None` for encode and decode failures.
fn call_error_code<E: RpcErrorCode>(err: &CallError<E>) -> Option<i16> {
    match err {
        CallError::App(e) => Some(e.code()),
        CallError::Timeout => Some(CODE_TIMEOUT),
        CallError::MethodNotFound => Some(crate::CODE_METHOD_NOT_FOUND),
        CallError::InvalidParams(_) => Some(crate::CODE_INVALID_PARAMS),
        CallError::Remote { code, .. } => Some(*code),
        CallError::Transport(t) => t.code(),
        _ => None,
    }
}

fn micros(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}
