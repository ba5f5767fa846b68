//! The standalone server `elbusd`: command-line options, logging, listeners, pid file and
//! graceful shutdown around an embedded [`Broker`].

mod args;
mod bind;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

pub use args::ServerArgs;
pub use bind::BindAddress;

use crate::broker::{AccessControl, Broker, ServerConfig, SharedAccessControl};
use crate::logging::EscapingWriter;

/// The UNIX socket `elbusd` serves when no `-B` is given.
pub const DEFAULT_SOCKET: &str = "/tmp/elbus.sock";

/// How long the shutdown announcement may take to reach the clients before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The exit code of a command line `elbusd` refuses (a bad option value, say), as clap's.
const USAGE_ERROR: u8 = 2;

/// The whole of `elbusd`: parses the command line and runs the server. A command line it
/// refuses is one line on stderr (`elbusd: error: ...`) and exit code 2, never a panic;
/// `--help` and `--version` print to stdout and exit 0.
pub fn main() -> ExitCode {
    match <ServerArgs as clap::Parser>::try_parse() {
        Ok(args) => run(args),
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        Err(err) => {
            // clap adds usage and a hint on further lines; the first says what is wrong.
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid command line");
            eprintln!("elbusd: {first}");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

/// Runs `elbusd` with parsed arguments until SIGINT or SIGTERM; returns the process exit code.
/// Arguments that fail [`ServerArgs::validate`] are one line on stderr and exit code 2.
pub fn run(args: ServerArgs) -> ExitCode {
    let (binds, config) = match args.validate() {
        Ok(valid) => valid,
        Err(err) => {
            eprintln!("elbusd: error: {err}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    init_logging(args.verbose);
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
    runtime.block_on(serve(args, binds, config))
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

/// Logs, one line each, the rules of `rules` that may be wider than they look.
fn warn_about_rules(rules: &AccessControl) {
    for warning in rules.warnings() {
        warn!("{warning}");
    }
}

async fn serve(args: ServerArgs, binds: Vec<BindAddress>, mut config: ServerConfig) -> ExitCode {
    // Installed before anything is bound: a supervisor may signal as soon as it sees the
    // ready line, and a signal that found no handler would kill the process outright.
    let signals = Signals::install();
    let access = match &args.acl {
        Some(path) => match AccessControl::from_file(path) {
            Ok(rules) => {
                warn_about_rules(&rules);
                info!(
                    "access control: {} rules from {}",
                    rules.rules.len(),
                    path.display()
                );
                let shared = SharedAccessControl::new(rules);
                config = config.access_control(shared.clone());
                Some((path.as_path(), shared))
            }
            Err(err) => {
                error!("{err}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    info!("starting elbus server");
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
    if let Err(err) = start(&broker, &binds, &config, |path| {
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
    if let Some(pid_file) = &args.pid_file {
        if let Err(err) = std::fs::write(pid_file, std::process::id().to_string()) {
            error!("unable to write the pid file {}: {err}", pid_file.display());
            broker.stop_listeners();
            return ExitCode::FAILURE;
        }
    }
    info!("elbus broker started");
    let signal = signals.wait(access).await;
    if signal == "SIGTERM" {
        info!("terminating");
    }
    if let Some(pid_file) = &args.pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    broker.stop_listeners();
    broker.announce_shutdown();
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    broker.wait_queues_drained(deadline).await;
    ExitCode::SUCCESS
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

/// The signal streams of the server, installed by [`Signals::install`].
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the SIGTERM, SIGINT and SIGHUP handlers (a failure is logged).
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let (term, int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => (Some(term), Some(int)),
            _ => {
                error!("unable to install signal handlers; stop with SIGKILL");
                (None, None)
            }
        };
        let hup = match signal(SignalKind::hangup()) {
            Ok(hup) => Some(hup),
            Err(err) => {
                error!("unable to install the SIGHUP handler, no reloads: {err}");
                None
            }
        };
        Signals { term, int, hup }
    }

    /// Waits for SIGTERM or SIGINT. With an access-control file, SIGHUP reloads it meanwhile
    /// (new connections get the new rules; a file that fails to load keeps the old ones).
    /// Without one, SIGHUP is logged and ignored: there is nothing to reload, and a stray
    /// hang-up (a closed terminal, a `kill -HUP` meant as "reload") must not take the bus down
    /// (busrtd dies of it).
    async fn wait(self, access: Option<(&std::path::Path, SharedAccessControl)>) -> &'static str {
        let Signals {
            term: Some(mut term),
            int: Some(mut int),
            mut hup,
        } = self
        else {
            return std::future::pending().await;
        };
        loop {
            let reload = async {
                match hup.as_mut() {
                    Some(hup) => hup.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = term.recv() => return "SIGTERM",
                _ = int.recv() => return "SIGINT",
                _ = reload => {
                    if let Some((path, shared)) = &access {
                        match AccessControl::from_file(path) {
                            Ok(rules) => {
                                let count = rules.rules.len();
                                warn_about_rules(&rules);
                                shared.replace(rules);
                                info!("access control reloaded: {count} rules from {}", path.display());
                            }
                            Err(err) => warn!("access control not reloaded, the old rules stay: {err}"),
                        }
                    } else {
                        info!("SIGHUP: nothing to reload (no --acl file), ignored");
                    }
                }
            }
        }
    }
}
