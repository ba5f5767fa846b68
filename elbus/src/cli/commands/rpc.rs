//! `rpc listen|notify|call0|call`, over the byte RPC layer.

use super::Context;
use crate::cli::args::RpcCommand;
use crate::cli::error::{CliError, Failure};

/// Runs an `rpc` command.
pub(crate) async fn run(_ctx: &Context<'_>, _command: &RpcCommand) -> Result<(), CliError> {
    Err(CliError::new(
        Failure::Other,
        "rpc commands need the RPC layer, which this build does not have yet",
    ))
}
