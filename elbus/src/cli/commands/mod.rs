//! The commands that talk to the bus once and print a result: dispatch, payloads from
//! arguments or stdin.

mod broker;
mod bus;
mod rpc;

use std::io::Read;

use super::args::{Args, Command};
use super::context::Context;
use super::error::CliError;
use super::output::Output;

/// Runs the command `args` names.
pub(crate) async fn execute(args: &Args, out: Output) -> Result<(), CliError> {
    let ctx = Context {
        args,
        out,
        name: args.name.clone().unwrap_or_else(super::default_name),
    };
    match &args.command {
        Command::Broker(command) => broker::run(&ctx, *command).await,
        Command::Listen(listen) => bus::listen(&ctx, listen).await,
        Command::SendMessage { target, payload } => {
            bus::send(&ctx, target, payload.as_deref()).await
        }
        Command::Publish { topic, payload } => bus::publish(&ctx, topic, payload.as_deref()).await,
        Command::Rpc(command) => rpc::run(&ctx, command).await,
        Command::Benchmark(bench) => super::benchmark::run(&ctx, bench).await,
        Command::Top(top) => super::top::run(&ctx, top).await,
    }
}

/// The payload argument, or all of stdin when it is absent (read before connecting, while
/// nothing else runs on the runtime).
pub(crate) fn payload_or_stdin(payload: Option<&str>) -> Result<Vec<u8>, CliError> {
    match payload {
        Some(payload) => Ok(payload.as_bytes().to_vec()),
        None => read_stdin(),
    }
}

/// All of stdin.
pub(crate) fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .map_err(|err| CliError::io("reading stdin", &err))?;
    Ok(buf)
}

/// Whether a `send` target is a broadcast mask rather than a client name.
pub(crate) fn is_mask(target: &str) -> bool {
    target.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks() {
        assert!(super::is_mask("app.*"));
        assert!(super::is_mask("a?.b"));
        assert!(!super::is_mask("app.worker"));
    }
}
