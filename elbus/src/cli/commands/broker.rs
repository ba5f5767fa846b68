//! `broker test|info|stats|client.list`: the `.broker` RPC API, as results or tables.

use super::Context;
use crate::cli::args::BrokerCommand;
use crate::cli::error::{CliError, Failure};

/// Runs a `broker` command.
pub(crate) async fn run(_ctx: &Context<'_>, _command: BrokerCommand) -> Result<(), CliError> {
    Err(CliError::new(
        Failure::Other,
        "broker commands need the RPC layer, which this build does not have yet",
    ))
}
