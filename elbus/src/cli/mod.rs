//! The command-line client `elbus` (feature `cli`): the commands of the published `busrt` CLI
//! (`protocol.md` §12) without its panics, with distinct exit codes and `--json` output.
//!
//! | module | what it is |
//! |---|---|
//! | `args` | the clap options and commands ([`Args`]) |
//! | `error` | [`CliError`]: one-line reports and their exit codes, RPC errors as reports |
//! | `params` | `k=v` RPC params typed into a MessagePack map |
//! | `render` | payloads shown as JSON, text, MessagePack or hex |
//! | `schema_text` | `rpc describe` for a terminal: wire types, streams, events, user types |
//! | `table` | aligned tables and `_` thousands separators |
//! | `output` | stdout results in the chosen style, stderr status lines |
//! | `context` | what every command shares: options, printer, client name, connecting |
//! | `commands` | `send`, `publish`, `listen`, `rpc …`, `broker …` |
//! | `codegen` | `rpc codegen`: typed client modules (Python) from an `rpc.describe` schema |
//! | `benchmark` | the seven throughput stages and the latency stages |
//! | `top` | `top`: the live view of a broker (samples, rates, the terminal view) |
//!
//! The thin main is `src/bin/elbus.rs`, built by the workspace root package.

mod args;
mod benchmark;
mod codegen;
mod commands;
mod context;
mod error;
mod output;
mod params;
mod render;
mod schema_text;
mod table;
mod top;

use std::process::ExitCode;

pub use args::{
    Args, BenchmarkArgs, BrokerCommand, CallArgs, Command, ListenArgs, RpcCommand, TopArgs,
};
pub use error::{CliError, Failure};

use output::{Output, Style};

/// Runs one `elbus` command; returns the process exit code (see [`Failure`]).
pub fn run(args: Args) -> ExitCode {
    init_logging(&args);
    let style = if args.json {
        Style::Json
    } else if args.silent {
        Style::Compact
    } else {
        Style::Human
    };
    let out = Output::new(style, args.silent);
    // One worker thread, as the original CLI: the benchmark's numbers then measure the broker
    // and the protocol, not how many cores the client could spread over.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let err = CliError::io("starting the runtime", &err);
            output::report(&err);
            return err.exit_code();
        }
    };
    let result = runtime.block_on(commands::execute(&args, out));
    // Connection tasks still running (a listener's reader) must not hold the exit up.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::report(&err);
            err.exit_code()
        }
    }
}

/// Logs go to stderr, so stdout holds only results: warnings by default, everything with
/// `-v`, nothing with `-s`.
fn init_logging(args: &Args) {
    use std::io::IsTerminal;
    if args.silent {
        return;
    }
    let level = if args.verbose {
        tracing::Level::TRACE
    } else {
        tracing::Level::WARN
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The default client name, `cli.<hostname>.<pid>`, as the original CLI.
pub fn default_name() -> String {
    format!("cli.{}.{}", hostname(), std::process::id())
}

/// The host name from the kernel (no crate needed on Linux), else `$HOSTNAME`, else
/// `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_name_has_host_and_pid() {
        let name = super::default_name();
        assert!(name.starts_with("cli."));
        assert!(name.ends_with(&format!(".{}", std::process::id())));
        assert!(name.len() > "cli..".len() + 1);
    }
}
