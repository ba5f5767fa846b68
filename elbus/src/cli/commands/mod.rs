//! The commands that talk to the bus once and print a result: dispatch, connecting, payloads
//! from arguments or stdin.

mod broker;
mod bus;
mod rpc;

pub(crate) use rpc::{rpc_error, rpc_over};

use std::io::Read;

use super::args::{Args, Command};
use super::error::CliError;
use super::output::Output;
use crate::ipc::{Client, Config};

/// What every command needs: the options, the printer and the client name.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub args: &'a Args,
    pub out: Output,
    pub name: String,
}

impl Context<'_> {
    /// The connection settings under `name`.
    pub fn config(&self, name: &str) -> Config {
        Config::new(&self.args.path, name)
            .buf_size(self.args.buf_size)
            .queue_size(self.args.queue_size)
            .timeout(self.args.timeout())
    }

    /// Connects as the command's client; `keepalive` pings every half timeout, for commands
    /// that may sit idle longer than the broker's idle limit (`listen`).
    pub async fn connect(&self, keepalive: bool) -> Result<Client, CliError> {
        let mut config = self.config(&self.name);
        if keepalive {
            config = config.ping_interval(Some(self.args.timeout() / 2));
        }
        connect(&config).await
    }
}

/// Connects with `config`; a failure names the broker and the client.
pub(crate) async fn connect(config: &Config) -> Result<Client, CliError> {
    tracing::info!(
        "connecting to {}, using client name {}",
        config.path(),
        config.name()
    );
    Client::connect(config).await.map_err(|err| {
        CliError::bus(
            format!("connecting to {} as {}", config.path(), config.name()),
            &err,
        )
    })
}

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
        Command::Send { target, payload } => bus::send(&ctx, target, payload.as_deref()).await,
        Command::Publish { topic, payload } => bus::publish(&ctx, topic, payload.as_deref()).await,
        Command::Rpc(command) => rpc::run(&ctx, command).await,
        Command::Benchmark(bench) => super::benchmark::run(&ctx, bench).await,
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
