//! The standalone server `elbusd`: command-line options, logging, listeners, pid file and
//! graceful shutdown around an embedded [`Broker`].

mod args;
mod bind;
mod config_file;
#[cfg(feature = "federation")]
mod federation_args;
mod signals;
mod systemd;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{error, info};

pub use args::ServerArgs;
pub use bind::BindAddress;
pub use config_file::MAX_CONFIG_BYTES;
#[cfg(feature = "federation")]
pub use federation_args::FederationArgs;
pub use systemd::MAX_LISTEN_FDS;

use crate::broker::{AccessControl, Broker, ServerConfig, SharedAccessControl};
use crate::logging::EscapingWriter;
use signals::{warn_about_rules, AclSource, Signals};
use systemd::{Notifier, PassedListener, SystemdEnv};

/// The UNIX socket `elbusd` serves when no `-B` is given (and no socket is passed by systemd).
pub const DEFAULT_SOCKET: &str = "/tmp/elbus.sock";

/// How long the shutdown announcement may take to reach the clients before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The exit code of a command line `elbusd` refuses (a bad option value, say), as clap's.
const USAGE_ERROR: u8 = 2;

/// The whole of `elbusd`: parses the command line (and `--config` file) and runs the server. A
/// command line or config file it refuses is one line on stderr (`elbusd: error: ...`) and exit
/// code 2, never a panic; `--help` and `--version` print to stdout and exit 0.
pub fn main() -> ExitCode {
    // Before any thread exists: the allocator's parameters, and the systemd variables, which
    // are removed from the environment.
    crate::allocator::keep_freed_memory();
    let systemd = SystemdEnv::take();
    let argv: Vec<OsString> = std::env::args_os().collect();
    match parse_command_line(&argv) {
        Ok((args, inline_acl)) => run_with(args, inline_acl, systemd),
        Err(code) => code,
    }
}

/// The options of `argv` merged with its `--config` file, and the file's inline rules; or the
/// exit code after the error (or `--help`) is printed.
fn parse_command_line(argv: &[OsString]) -> Result<(ServerArgs, Option<AccessControl>), ExitCode> {
    use clap::{CommandFactory, FromArgMatches, Parser};
    let command = ServerArgs::command();
    let matches = command
        .clone()
        .try_get_matches_from(argv)
        .map_err(clap_exit)?;
    let mut args = ServerArgs::from_arg_matches(&matches).map_err(clap_exit)?;
    let Some(path) = args.config.clone() else {
        return Ok((args, None));
    };
    let file = config_file::load(&path, &command, &matches).map_err(|err| {
        eprintln!("elbusd: error: {err}");
        ExitCode::from(USAGE_ERROR)
    })?;
    // The file's options first: the command line's come after and are never in the file's.
    let merged = argv
        .iter()
        .take(1)
        .chain(&file.args)
        .chain(argv.iter().skip(1));
    args = ServerArgs::try_parse_from(merged).map_err(clap_exit)?;
    Ok((args, file.inline_acl))
}

/// Prints a clap outcome: `--help`/`--version` to stdout (exit 0), an error as one line.
fn clap_exit(err: clap::Error) -> ExitCode {
    if !err.use_stderr() {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    // clap adds usage and a hint on further lines; the first says what is wrong.
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid command line");
    eprintln!("elbusd: {first}");
    ExitCode::from(USAGE_ERROR)
}

/// Runs `elbusd` with parsed arguments until SIGINT or SIGTERM; returns the process exit code.
/// Arguments that fail [`ServerArgs::validate`] are one line on stderr and exit code 2.
/// systemd's variables are ignored (see [`main`]).
pub fn run(args: ServerArgs) -> ExitCode {
    run_with(args, None, SystemdEnv::default())
}

fn run_with(args: ServerArgs, inline_acl: Option<AccessControl>, systemd: SystemdEnv) -> ExitCode {
    let (mut binds, config) = match args.validate() {
        Ok(valid) => valid,
        Err(err) => {
            eprintln!("elbusd: error: {err}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    init_logging(args.verbose);
    let passed = match &systemd.listen {
        Some((fds, names)) => match systemd::passed_listeners(fds, names.as_deref()) {
            Ok(passed) => passed,
            Err(err) => {
                error!("socket activation: {err}");
                return ExitCode::FAILURE;
            }
        },
        None => Vec::new(),
    };
    // Passed sockets replace the default socket, not the -B ones; a -B address a passed
    // socket already serves is not bound again (one config serves with and without the unit).
    if !passed.is_empty() && args.bind.is_empty() {
        binds.clear();
    }
    binds.retain(|bind| match systemd::already_passed(bind, &passed) {
        Some(name) => {
            info!("{bind} is passed by systemd (name {name}), not bound again");
            false
        }
        None => true,
    });
    let notifier = Notifier::new(systemd.notify_socket);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            error!("unable to start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let acl = match (&args.acl, inline_acl, &args.config) {
        (Some(path), _, _) => Some(AclSource::File(path.clone())),
        (None, Some(rules), Some(config)) => Some(AclSource::Inline(config.clone(), rules)),
        _ => None,
    };
    let listeners = Listeners { binds, passed };
    runtime.block_on(serve(args, listeners, config, acl, notifier))
}

/// Everything `elbusd` listens on: `-B` addresses and sockets passed by systemd.
struct Listeners {
    binds: Vec<BindAddress>,
    passed: Vec<PassedListener>,
}

/// Logs to stdout, one line per event: every field of an event (its message included) is
/// written through [`EscapingWriter`], so no text a client put into it (a name with a newline, a
/// terminal escape) can end the line or start a forged one, whatever the call site did.
fn init_logging(verbose: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::field::MakeExt;
    let level = if verbose {
        tracing::Level::TRACE
    } else {
        tracing::Level::INFO
    };
    let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        use std::fmt::Write;
        if field.name() != "message" {
            write!(writer, "{}=", field.name())?;
        }
        write!(EscapingWriter(writer), "{value:?}")
    })
    .delimited(" ");
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .fmt_fields(fields)
        .with_writer(std::io::stdout)
        .try_init();
}

async fn serve(
    args: ServerArgs,
    listeners: Listeners,
    mut config: ServerConfig,
    acl: Option<AclSource>,
    notifier: Notifier,
) -> ExitCode {
    // Installed before anything is bound: a supervisor may signal as soon as it sees the
    // ready line, and a signal that found no handler would kill the process outright.
    let signals = Signals::install();
    let access = match acl {
        Some(source) => {
            let loaded = match &source {
                AclSource::Inline(_, rules) => Ok(rules.clone()),
                AclSource::File(_) => source.read(),
            };
            match loaded {
                Ok(rules) => {
                    warn_about_rules(&rules);
                    info!(
                        "access control: {} rules from {}",
                        rules.rules.len(),
                        source.describe()
                    );
                    let shared = SharedAccessControl::new(rules);
                    config = config.access_control(shared.clone());
                    Some((source, shared))
                }
                Err(err) => {
                    error!("{err}");
                    return ExitCode::FAILURE;
                }
            }
        }
        None => None,
    };
    info!("starting elbus server");
    if let Some(path) = &args.config {
        info!("config file: {}", path.display());
    }
    info!("workers: {}", args.workers);
    match args.busy_poll {
        0 => info!("busy poll: off"),
        micros => info!("busy poll: {micros} µs"),
    }
    info!("buf size: {}", config.buf_size);
    info!(
        "queue size: {} frames, {} bytes, on overflow: {:?}",
        config.queue.max_frames, config.queue.max_bytes, config.queue.overflow
    );
    info!("max frame size: {}", config.max_frame_size);
    info!(
        "broker-wide bounds: {} queued bytes, {} reading bytes",
        args.max_queued_bytes, args.max_reading_bytes
    );
    match config.unix_mode {
        Some(mode) => info!("socket mode: {mode:o}"),
        None => info!("socket mode: from the umask"),
    }
    info!("timeout: {:?}", config.timeout);
    match config.idle_timeout {
        Some(idle) => info!("idle timeout: {idle:?}"),
        None => info!("idle timeout: none"),
    }
    let broker = Broker::with_options(args.broker_options());
    let api = match crate::broker_api::BrokerApi::start(&broker) {
        Ok(api) => api,
        Err(err) => {
            error!("unable to start .broker: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = start(&broker, &listeners.binds, &config, |path| {
        // `server` enables `broker-api`, so a FIFO can always be served.
        api.spawn_fifo_with(path, crate::broker_api::fifo::FifoPermissions::of(&config))
            .map_err(|err| err.to_string())
    })
    .await
    {
        error!("{err}");
        broker.stop_listeners();
        return ExitCode::FAILURE;
    }
    // Held until the process exits; dropping it would stop the endpoint.
    let _metrics = match &args.metrics {
        Some(addr) => match start_metrics(&broker, addr, args.metrics_per_client).await {
            Ok(endpoint) => Some(endpoint),
            Err(err) => {
                error!("{err}");
                broker.stop_listeners();
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    #[cfg(feature = "federation")]
    let federation = match start_federation(&broker, &args, access.as_ref().map(|a| &a.1)).await {
        Ok(federation) => federation,
        Err(err) => {
            error!("{err}");
            broker.stop_listeners();
            return ExitCode::FAILURE;
        }
    };
    let listener_count = listeners.binds.len() + listeners.passed.len();
    for passed in listeners.passed {
        if let Err(err) = serve_passed(&broker, passed, &config) {
            error!("{err}");
            broker.stop_listeners();
            return ExitCode::FAILURE;
        }
    }
    if let Some(pid_file) = &args.pid_file {
        if let Err(err) = std::fs::write(pid_file, std::process::id().to_string()) {
            error!("unable to write the pid file {}: {err}", pid_file.display());
            broker.stop_listeners();
            return ExitCode::FAILURE;
        }
    }
    info!("elbus broker started");
    notifier.notify(&format!(
        "READY=1\nSTATUS=serving {listener_count} listeners"
    ));
    let signal = signals.wait(access.as_ref()).await;
    notifier.notify(&format!("STOPPING=1\nSTATUS=stopping on {signal}"));
    if signal == "SIGTERM" {
        info!("terminating");
    }
    if let Some(pid_file) = &args.pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    broker.stop_listeners();
    #[cfg(feature = "federation")]
    if let Some(federation) = federation {
        federation.leave().await;
    }
    broker.announce_shutdown();
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    broker.wait_queues_drained(deadline).await;
    ExitCode::SUCCESS
}

/// Joins the federation the options ask for, if any.
#[cfg(feature = "federation")]
async fn start_federation(
    broker: &Broker,
    args: &ServerArgs,
    access: Option<&SharedAccessControl>,
) -> Result<Option<crate::federation::Federation>, String> {
    let Some(config) = args.federation.config()? else {
        return Ok(None);
    };
    info!(
        "federation: node {} via {}",
        config.node,
        config.servers.join(",")
    );
    let rules = access.map(SharedAccessControl::current);
    crate::federation::Federation::join(broker, config, rules.as_deref())
        .await
        .map(Some)
        .map_err(|err| err.to_string())
}

/// Serves the broker's metrics at `addr` and logs the bound address.
async fn start_metrics(
    broker: &Broker,
    addr: &str,
    per_client: bool,
) -> Result<crate::metrics::endpoint::MetricsEndpoint, String> {
    use crate::metrics::endpoint::{EndpointLimits, MetricsEndpoint};
    let mut registry = prometheus_client::registry::Registry::default();
    crate::metrics::BrokerMetrics::new(broker)
        .per_client(per_client)
        .register(&mut registry);
    let endpoint = MetricsEndpoint::bind(addr, Arc::new(registry), EndpointLimits::default())
        .await
        .map_err(|err| format!("unable to bind the metrics endpoint {addr}: {err}"))?;
    let per_client = if per_client {
        ", per-client series on"
    } else {
        ""
    };
    info!(
        "metrics endpoint listening on {} (GET /metrics, /healthz{per_client})",
        endpoint.local_addr()
    );
    Ok(endpoint)
}

async fn start(
    broker: &Broker,
    binds: &[BindAddress],
    config: &ServerConfig,
    spawn_fifo: impl Fn(&std::path::Path) -> Result<(), String>,
) -> Result<(), String> {
    for bind in binds {
        info!("binding at {bind}");
        match bind {
            BindAddress::Unix(path) => broker
                .spawn_unix_server(path.clone(), config.clone())
                .await
                .map_err(|err| err.to_string())?,
            BindAddress::Tcp(addr) => {
                broker
                    .spawn_tcp_server(addr, config.clone())
                    .await
                    .map_err(|err| err.to_string())?;
            }
            BindAddress::Fifo(path) => spawn_fifo(path)?,
        }
    }
    Ok(())
}

/// Serves a socket passed by systemd with the listener settings of `-B` sockets (their file
/// mode and group excepted: the socket unit sets those).
fn serve_passed(
    broker: &Broker,
    passed: PassedListener,
    config: &ServerConfig,
) -> Result<(), String> {
    match passed {
        PassedListener::Unix(listener, name) => {
            let path = broker
                .serve_unix_listener(listener, config.clone())
                .map_err(|err| err.to_string())?;
            info!("serving the passed socket {path} (name {name})");
        }
        PassedListener::Tcp(listener, name) => {
            let addr = broker
                .serve_tcp_listener(listener, config.clone())
                .map_err(|err| err.to_string())?;
            info!("serving the passed socket {addr} (name {name})");
        }
    }
    Ok(())
}
