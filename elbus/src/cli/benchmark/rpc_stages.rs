//! The benchmark's RPC stages (`rpc.call`, `rpc.call+handle`, `rpc.call0`) and the RPC
//! round-trip latency stage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::progress::Progress;
use super::stages::{join, Outcome};
use crate::cli::error::{rpc_error, CliError, Failure};
use crate::ipc::Client;
use crate::protocol::BROKER_NAME;
use crate::rpc::{RpcClient, RpcError, RpcEvent, RpcHandlers, RpcResult};
use crate::{ErrorKind, QoS};

/// The method each benchmark client serves itself.
const SELFTEST: &str = "benchmark.selftest";

/// The benchmark clients' handlers: `benchmark.selftest` echoes its params; anything else is
/// -32601, as in the original.
#[derive(Debug, Clone, Copy, Default)]
pub struct BenchHandlers;

impl RpcHandlers for BenchHandlers {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        if event.method() == SELFTEST.as_bytes() {
            Ok(Some(event.payload().to_vec()))
        } else {
            Err(RpcError::method(None))
        }
    }
}

/// Which RPC stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcStage {
    /// `.broker` `benchmark.test`, which echoes the params.
    Call,
    /// The worker's own `benchmark.selftest`.
    CallHandle,
    /// `call0` of `test` at the worker's null target; the not-registered ACK is expected.
    Call0,
}

/// One benchmark RPC client and its null target.
#[derive(Debug)]
pub struct RpcWorker {
    /// The RPC client `<name>-<w>`.
    pub rpc: RpcClient<Client>,
    /// The worker's full name.
    pub name: String,
    /// `<name>-<w>-null`.
    pub null_target: String,
}

/// Runs `stage`: each worker makes `n` sequential calls.
pub async fn run(
    workers: &[RpcWorker],
    stage: RpcStage,
    payload: &Arc<[u8]>,
    n: u64,
    progress: &Progress,
) -> Outcome {
    let tasks = workers
        .iter()
        .map(|worker| {
            let rpc = worker.rpc.clone();
            let target = match stage {
                RpcStage::Call => BROKER_NAME.to_owned(),
                RpcStage::CallHandle => worker.name.clone(),
                RpcStage::Call0 => worker.null_target.clone(),
            };
            let (payload, progress) = (payload.clone(), progress.clone());
            tokio::spawn(async move {
                let mut outcome = Outcome {
                    iters: n,
                    ..Outcome::default()
                };
                for i in 0..n {
                    if let Err(err) = once(&rpc, stage, &target, &payload).await {
                        // A lost connection or a broker that stopped answering would fail
                        // every remaining call the same way, a timeout each: stop here.
                        if matches!(
                            err.bus_error_kind(),
                            Some(ErrorKind::Eof | ErrorKind::Timeout)
                        ) {
                            outcome.fail(n - i, rpc_error(format!("call {target}"), &err));
                            break;
                        }
                        outcome.fail(1, rpc_error(format!("call {target}"), &err));
                    }
                    progress.tick(i);
                }
                outcome
            })
        })
        .collect();
    join(tasks, n).await
}

/// One iteration of `stage`.
async fn once(
    rpc: &RpcClient<Client>,
    stage: RpcStage,
    target: &str,
    payload: &[u8],
) -> Result<(), RpcError> {
    let qos = QoS::RealtimeProcessed;
    match stage {
        RpcStage::Call | RpcStage::CallHandle => {
            let method = if stage == RpcStage::Call {
                "benchmark.test"
            } else {
                SELFTEST
            };
            let reply = rpc.call(target, method, payload, qos).await?;
            if reply.payload() == payload {
                Ok(())
            } else {
                Err(RpcError::with_message(
                    -32603,
                    "the reply differs from the params it should echo",
                ))
            }
        }
        RpcStage::Call0 => match rpc.call0(target, "test", payload, qos).await {
            Err(err) if err.bus_error_kind() == Some(ErrorKind::NotRegistered) => Ok(()),
            other => other,
        },
    }
}

/// `latency.rpc.call`: one call at a time from one client to `.broker` `benchmark.test`,
/// each round trip timed.
pub async fn latency(
    worker: &RpcWorker,
    payload: &[u8],
    n: u64,
    progress: &Progress,
) -> (Vec<Duration>, Outcome) {
    let mut samples = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let mut outcome = Outcome {
        iters: n,
        ..Outcome::default()
    };
    for i in 0..n {
        let start = Instant::now();
        match once(&worker.rpc, RpcStage::Call, BROKER_NAME, payload).await {
            Ok(()) => samples.push(start.elapsed()),
            Err(err) => {
                // Keep going only while the failures are the remote's; a lost connection or
                // timeouts would only repeat.
                let fatal = err.bus_error_kind().is_some();
                let count = if fatal { n - i } else { 1 };
                outcome.fail(
                    count,
                    rpc_error("latency: call .broker benchmark.test", &err),
                );
                if fatal {
                    break;
                }
            }
        }
        progress.tick(i);
    }
    if samples.is_empty() && outcome.first_error.is_none() {
        outcome.fail(0, CliError::new(Failure::Other, "no latency samples"));
    }
    (samples, outcome)
}
