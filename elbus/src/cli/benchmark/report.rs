//! The benchmark's report: the results table (or JSON document), the latency percentiles, and
//! the raw socket yardsticks beside them with the ratios to them.

use serde_json::json;

use super::{LatencyResult, Plan, StageResult};
use crate::cli::args::BenchmarkArgs;
use crate::cli::error::CliError;
use crate::cli::output::Style;
use crate::cli::table::{thousands, thousands_u64, Align, Table};

/// The latency row of the raw socket's round trip.
pub(crate) const RAW_ROUND_TRIP: &str = "latency.raw.unix";
/// The latency row whose p50 is compared with the raw round trip.
const RPC_ROUND_TRIP: &str = "latency.rpc.call";

/// The RPC round trip's p50 over the raw socket's, when both were measured.
fn rpc_to_raw_p50(latencies: &[LatencyResult]) -> Option<f64> {
    let p50 = |name: &str| {
        latencies
            .iter()
            .find(|l| l.name == name)
            .and_then(|l| l.percentiles.as_ref())
            .map(|p| p.p50)
    };
    let (rpc, raw) = (p50(RPC_ROUND_TRIP)?, p50(RAW_ROUND_TRIP)?);
    (raw > 0.0).then(|| rpc / raw)
}

/// Prints the results in the output style.
pub(crate) fn print(
    plan: &Plan<'_>,
    args: &BenchmarkArgs,
    results: &[StageResult],
    latencies: &[LatencyResult],
    raw_one_way: Option<f64>,
) -> Result<(), CliError> {
    let out = &plan.ctx.out;
    let ratio = rpc_to_raw_p50(latencies);
    if out.style() == Style::Json {
        let stages: Vec<_> = results
            .iter()
            .map(|r| {
                json!({
                    "stage": r.name,
                    "iters": r.outcome.iters,
                    "errors": r.outcome.errors,
                    "secs": r.elapsed.as_secs_f64(),
                    "iters_per_sec": r.rate(),
                })
            })
            .collect();
        let latency: Vec<_> = latencies
            .iter()
            .map(|l| match &l.percentiles {
                Some(p) => json!({
                    "stage": l.name, "samples": p.samples, "p50_us": p.p50,
                    "p99_us": p.p99, "p99_9_us": p.p999, "max_us": p.max,
                }),
                None => json!({ "stage": l.name, "samples": 0 }),
            })
            .collect();
        return out.json(
            &json!({
                "workers": plan.workers,
                "iters": plan.total(),
                "iters_per_worker": plan.per_worker,
                "payload_size": args.payload_size,
                "stages": stages,
                "latency": latency,
                "raw_unix_one_way_per_sec": raw_one_way.map(|rate| rate as u64),
                "rpc_p50_to_raw_round_trip": ratio,
            }),
            false,
        );
    }
    let with_errors = results.iter().any(|r| r.outcome.errors > 0);
    let mut columns = vec![
        ("stage", Align::Left),
        ("iters", Align::Right),
        ("secs", Align::Right),
        ("iters/s", Align::Right),
    ];
    if with_errors {
        columns.push(("errors", Align::Right));
    }
    let mut table = Table::new(&columns);
    for r in results {
        table.row(vec![
            r.name.to_owned(),
            thousands_u64(r.outcome.iters),
            format!("{:.3}", r.elapsed.as_secs_f64()),
            thousands_u64(r.rate()),
            thousands_u64(r.outcome.errors),
        ]);
    }
    let mut text = String::new();
    if out.style() == Style::Human {
        text.push_str("--- Benchmark results ---\n");
    }
    text.push_str(&table.render());
    if let Some(rate) = raw_one_way {
        text.push_str(&format!(
            "\nraw UNIX socket, one write per {}-byte message, one way: {} msgs/s\n",
            args.payload_size,
            thousands_u64(rate as u64)
        ));
    }
    if !latencies.is_empty() {
        let mut table = Table::new(&[
            ("latency", Align::Left),
            ("samples", Align::Right),
            ("p50 µs", Align::Right),
            ("p99 µs", Align::Right),
            ("p99.9 µs", Align::Right),
            ("max µs", Align::Right),
        ]);
        for l in latencies {
            let mut row = vec![l.name.to_owned()];
            match &l.percentiles {
                Some(p) => {
                    row.push(thousands(p.samples as i128));
                    for value in [p.p50, p.p99, p.p999, p.max] {
                        row.push(format!("{value:.1}"));
                    }
                }
                None => row.push("0".to_owned()),
            }
            table.row(row);
        }
        text.push('\n');
        text.push_str(&table.render());
        if let Some(ratio) = ratio {
            text.push_str(&format!(
                "{RPC_ROUND_TRIP} p50 / {RAW_ROUND_TRIP} p50: {ratio:.2}\n"
            ));
        }
    }
    out.bytes(text.as_bytes())
}
