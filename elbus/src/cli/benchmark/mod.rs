//! `benchmark`: the published CLI's seven throughput stages (`protocol.md` §12.3) and, with
//! `--latency`, latency percentiles of single-client round trips and one-way delivery.
//!
//! Order and naming follow busrt 0.5.6: `W` RPC clients `<name>-1` … `<name>-W` run the RPC
//! stages, are dropped, and `W` plain clients with the same names connect for the client
//! stages; the send-to-nowhere stages target `<name>-<w>-null`. There is no 5 s CPU warm-up.
//! Failures are counted per stage, shown in an `errors` column and reported after the table
//! (the exit code is the first failure's), never a panic.

mod latency;
mod progress;
mod raw_socket;
mod report;
mod rpc_stages;
mod stages;

use std::sync::Arc;
use std::time::{Duration, Instant};

use self::latency::Percentiles;
use self::progress::ProgressLine;
use self::rpc_stages::{BenchHandlers, RpcStage, RpcWorker};
use self::stages::{Outcome, Worker};
use crate::cli::args::BenchmarkArgs;
use crate::cli::context::{connect, rpc_over, Context};
use crate::cli::error::CliError;
use crate::cli::output::Style;
use crate::cli::table::thousands_u64;
use crate::ipc::{Client, Config};
use crate::{AsyncClient, ErrorKind, QoS};

/// The payload byte, as the original.
const PAYLOAD_BYTE: u8 = 0xEE;

/// One measured stage.
#[derive(Debug)]
pub(crate) struct StageResult {
    name: &'static str,
    elapsed: Duration,
    outcome: Outcome,
}

impl StageResult {
    /// Successful iterations per second, truncated (the original's column).
    fn rate(&self) -> u64 {
        let ok = self.outcome.iters.saturating_sub(self.outcome.errors);
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (ok as f64 / secs) as u64
        } else {
            0
        }
    }
}

/// One latency stage.
#[derive(Debug)]
pub(crate) struct LatencyResult {
    name: &'static str,
    percentiles: Option<Percentiles>,
}

/// The runs' shared settings.
pub(crate) struct Plan<'a> {
    ctx: &'a Context<'a>,
    workers: u64,
    per_worker: u64,
    payload: Arc<[u8]>,
    progress: bool,
    /// `--stage-marks`: `stage started: NAME` / `stage completed: NAME` on stderr.
    marks: bool,
}

impl Plan<'_> {
    /// Marks the start of stage `name` (with `--stage-marks`) and starts its progress line.
    fn stage_started(&self, name: &'static str) -> ProgressLine {
        if self.marks {
            eprintln!("stage started: {name}");
        }
        ProgressLine::start(name, self.total(), self.progress)
    }

    /// Marks the end of stage `name` (with `--stage-marks`).
    fn stage_completed(&self, name: &'static str) {
        if self.marks {
            eprintln!("stage completed: {name}");
        }
    }

    fn total(&self) -> u64 {
        self.workers * self.per_worker
    }

    /// `<name>-<w>`.
    fn worker_name(&self, w: u64) -> String {
        format!("{}-{w}", self.ctx.name)
    }
}

/// Runs the benchmark and prints its results.
pub(crate) async fn run(ctx: &Context<'_>, args: &BenchmarkArgs) -> Result<(), CliError> {
    let workers = u64::from(args.workers);
    let per_worker = args.iters / workers;
    if per_worker == 0 {
        return Err(CliError::usage(format!(
            "{} iters cannot be split among {workers} workers",
            args.iters
        )));
    }
    let plan = Plan {
        ctx,
        workers,
        per_worker,
        payload: vec![PAYLOAD_BYTE; args.payload_size].into(),
        progress: ctx.out.status_enabled() && ctx.out.stderr_is_terminal(),
        marks: args.stage_marks,
    };
    if ctx.out.style() == Style::Human {
        ctx.out.line(&format!(
            "Starting benchmark, {workers} worker(s), {} iters, {} iters/worker, {} byte(s) payload",
            thousands_u64(plan.total()),
            thousands_u64(per_worker),
            args.payload_size
        ))?;
    }
    let mut results = Vec::new();
    let mut latencies = Vec::new();
    // The yardsticks first, before any client is connected (a blocked runtime would miss their
    // pings): the raw socket's one-way rate and round trip for this payload.
    let raw = raw_yardsticks(&plan, args).await?;
    if let Some(raw_rtt) = raw.round_trips {
        latencies.push(raw_rtt);
    }

    rpc_stages(&plan, args, &mut results, &mut latencies).await?;
    client_stages(&plan, args, &mut results, &mut latencies).await?;

    report::print(&plan, args, &results, &latencies, raw.one_way_rate)?;
    let failed = results
        .iter()
        .map(|r| (r.name, &r.outcome))
        .find(|(_, outcome)| outcome.errors > 0);
    match failed {
        None => Ok(()),
        Some((name, outcome)) => {
            let first = outcome.first_error.clone().unwrap_or_else(|| {
                CliError::new(crate::cli::error::Failure::Other, "unknown error")
            });
            Err(CliError::new(
                first.failure(),
                format!(
                    "stage {name}: {} error(s), the first: {}",
                    thousands_u64(outcome.errors),
                    first.message()
                ),
            ))
        }
    }
}

/// The three RPC stages and the RPC latency stage; the RPC clients are disconnected at the
/// end, so plain clients can take their names.
async fn rpc_stages(
    plan: &Plan<'_>,
    args: &BenchmarkArgs,
    results: &mut Vec<StageResult>,
    latencies: &mut Vec<LatencyResult>,
) -> Result<(), CliError> {
    let timeout = plan.ctx.args.timeout();
    let mut pool = Vec::with_capacity(usize::try_from(plan.workers).unwrap_or(0));
    for w in 1..=plan.workers {
        let name = plan.worker_name(w);
        let client = connect_reusing_name(plan, &name).await?;
        pool.push(RpcWorker {
            rpc: rpc_over(client, BenchHandlers, timeout)?,
            null_target: format!("{name}-null"),
            name,
        });
    }
    for (name, stage) in [
        ("rpc.call", RpcStage::Call),
        ("rpc.call+handle", RpcStage::CallHandle),
        ("rpc.call0", RpcStage::Call0),
    ] {
        let display = plan.stage_started(name);
        let start = Instant::now();
        let outcome = rpc_stages::run(
            &pool,
            stage,
            &plan.payload,
            plan.per_worker,
            &display.progress(),
        )
        .await;
        let elapsed = start.elapsed();
        display.finish();
        plan.stage_completed(name);
        results.push(StageResult {
            name,
            elapsed,
            outcome,
        });
    }
    if args.latency {
        if let Some(first) = pool.first() {
            let name = "latency.rpc.call";
            let display = ProgressLine::start(name, args.latency_iters, plan.progress);
            let (mut samples, outcome) = rpc_stages::latency(
                first,
                &plan.payload,
                args.latency_iters,
                &display.progress(),
            )
            .await;
            display.finish();
            latency_result(name, &mut samples, outcome, results, latencies);
        }
    }
    for worker in &pool {
        worker.rpc.client().disconnect().await;
    }
    Ok(())
}

/// Records a latency stage; its failures also show as a row of the results table.
fn latency_result(
    name: &'static str,
    samples: &mut [Duration],
    outcome: Outcome,
    results: &mut Vec<StageResult>,
    latencies: &mut Vec<LatencyResult>,
) {
    if outcome.errors > 0 {
        results.push(StageResult {
            name,
            elapsed: Duration::ZERO,
            outcome,
        });
    }
    latencies.push(LatencyResult {
        name,
        percentiles: Percentiles::of(samples),
    });
}

/// The four plain-client stages, and the one-way latency stage.
async fn client_stages(
    plan: &Plan<'_>,
    args: &BenchmarkArgs,
    results: &mut Vec<StageResult>,
    latencies: &mut Vec<LatencyResult>,
) -> Result<(), CliError> {
    let mut pool = Vec::with_capacity(usize::try_from(plan.workers).unwrap_or(0));
    for w in 1..=plan.workers {
        let client = connect_reusing_name(plan, &plan.worker_name(w)).await?;
        let events = client.take_event_channel();
        pool.push(Worker {
            client,
            events,
            null_target: format!("{}-null", plan.worker_name(w)),
        });
    }
    let patience = plan.ctx.args.timeout();
    let n = plan.per_worker;
    for (name, qos, to_self) in [
        ("send.qos.no", QoS::No, false),
        ("send.qos.processed", QoS::RealtimeProcessed, false),
        ("send+recv.qos.no", QoS::No, true),
        ("send+recv.qos.processed", QoS::RealtimeProcessed, true),
    ] {
        pool.iter_mut().for_each(Worker::drain);
        let display = plan.stage_started(name);
        let progress = display.progress();
        let start = Instant::now();
        let outcome = if to_self {
            stages::send_to_self(&mut pool, &plan.payload, n, qos, &progress, patience).await
        } else {
            stages::send_to_null(&pool, &plan.payload, n, qos, &progress).await
        };
        let elapsed = start.elapsed();
        display.finish();
        plan.stage_completed(name);
        results.push(StageResult {
            name,
            elapsed,
            outcome,
        });
    }
    if args.latency {
        if let Some(first) = pool.first_mut() {
            let display = ProgressLine::start("latency.send", args.latency_iters, plan.progress);
            let (mut samples, outcome) = stages::one_way_latency(
                first,
                &plan.payload,
                args.latency_iters,
                patience,
                &display.progress(),
            )
            .await;
            display.finish();
            latency_result("latency.send", &mut samples, outcome, results, latencies);
        }
    }
    for worker in &pool {
        worker.client.disconnect().await;
    }
    Ok(())
}

/// Connects a worker client. The broker may still be processing the EOF of the previous
/// client of the same name (dropped between stage groups), so a Busy answer is retried for up
/// to the timeout before it counts.
async fn connect_reusing_name(plan: &Plan<'_>, name: &str) -> Result<Client, CliError> {
    let timeout = plan.ctx.args.timeout();
    let config: Config = plan.ctx.config(name).ping_interval(Some(timeout / 2));
    let deadline = Instant::now() + timeout;
    loop {
        match Client::connect(&config).await {
            Ok(client) => return Ok(client),
            Err(err) if err.kind() == ErrorKind::Busy && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err(_) => return connect(&config).await,
        }
    }
}

/// What the raw socket measured in this run.
struct RawYardsticks {
    /// `--raw-socket`: payload-size messages per second one way.
    one_way_rate: Option<f64>,
    /// `--latency`: the round trips, as a latency row.
    round_trips: Option<LatencyResult>,
}

/// Measures the raw socket (on the blocking pool, off the runtime's worker): the one-way rate
/// with `--raw-socket` (as many messages as a send stage), the round trip with `--latency`.
async fn raw_yardsticks(plan: &Plan<'_>, args: &BenchmarkArgs) -> Result<RawYardsticks, CliError> {
    let failed = |err: std::io::Error| CliError::io("measuring the raw UNIX socket", &err);
    let joined = |err: tokio::task::JoinError| {
        CliError::new(
            crate::cli::error::Failure::Other,
            format!("raw socket: {err}"),
        )
    };
    let one_way_rate = if args.raw_socket {
        let (payload, n) = (plan.payload.clone(), plan.total());
        let rate = tokio::task::spawn_blocking(move || raw_socket::one_way_rate(&payload, n))
            .await
            .map_err(joined)?
            .map_err(failed)?;
        Some(rate)
    } else {
        None
    };
    let round_trips = if args.latency {
        let (payload, n) = (plan.payload.clone(), args.latency_iters);
        let mut samples = tokio::task::spawn_blocking(move || raw_socket::round_trips(&payload, n))
            .await
            .map_err(joined)?
            .map_err(failed)?;
        Some(LatencyResult {
            name: report::RAW_ROUND_TRIP,
            percentiles: Percentiles::of(&mut samples),
        })
    } else {
        None
    };
    Ok(RawYardsticks {
        one_way_rate,
        round_trips,
    })
}
