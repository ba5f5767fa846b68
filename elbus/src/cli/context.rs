//! [`Context`], what every command and the benchmark share: the options, the printer, the client
//! name, and connecting (plain and RPC) with failures that name the broker and the client.

use std::time::Duration;

use super::args::Args;
use super::error::CliError;
use super::output::Output;
use crate::ipc::{Client, Config};
use crate::rpc::{RpcClient, RpcHandlers, RpcOptions};
use crate::AsyncClient;

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

    /// An RPC client over the command's connection, its calls bounded by `--timeout`.
    pub async fn connect_rpc<H: RpcHandlers>(
        &self,
        handlers: H,
    ) -> Result<RpcClient<Client>, CliError> {
        let client = self.connect(false).await?;
        rpc_over(client, handlers, self.args.timeout())
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

/// Wraps a connected client in an RPC client (which pings it every half timeout).
pub(crate) fn rpc_over<H: RpcHandlers>(
    client: Client,
    handlers: H,
    timeout: Duration,
) -> Result<RpcClient<Client>, CliError> {
    let name = client.name().to_owned();
    RpcClient::create(client, handlers, RpcOptions::new().timeout(timeout))
        .map_err(|err| CliError::bus(format!("starting RPC as {name}"), &err))
}
