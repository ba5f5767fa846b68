//! The standalone server `elbusd`: command-line options, logging, listeners, pid file and
//! graceful shutdown around an embedded [`Broker`].

mod args;
mod bind;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

pub use args::ServerArgs;
pub use bind::BindAddress;

use crate::broker::{AccessControl, Broker, ServerConfig, SharedAccessControl};

/// The UNIX socket `elbusd` serves when no `-B` is given.
pub const DEFAULT_SOCKET: &str = "/tmp/elbus.sock";

/// How long the shutdown announcement may take to reach the clients before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Runs `elbusd` with parsed arguments until SIGINT or SIGTERM; returns the process exit code.
pub fn run(args: ServerArgs) -> ExitCode {
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
    runtime.block_on(serve(args))
}

fn init_logging(verbose: bool) {
    let level = if verbose {
        tracing::Level::TRACE
    } else {
        tracing::Level::INFO
    };
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .with_writer(std::io::stdout)
        .try_init();
}

async fn serve(args: ServerArgs) -> ExitCode {
    let binds = match args.bind_addresses() {
        Ok(binds) => binds,
        Err(err) => {
            error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = args.server_config();
    match args.socket_gid() {
        Ok(gid) => config = config.unix_group(gid),
        Err(err) => {
            error!("{err}");
            return ExitCode::FAILURE;
        }
    }
    let access = match &args.acl {
        Some(path) => match AccessControl::from_file(path) {
            Ok(rules) => {
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
    #[cfg(feature = "broker-api")]
    let api = match crate::broker_api::BrokerApi::start(&broker) {
        Ok(api) => api,
        Err(err) => {
            error!("unable to start .broker: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = start(&broker, &binds, &config, |path| {
        #[cfg(feature = "broker-api")]
        return api.spawn_fifo(path).map_err(|err| err.to_string());
        #[cfg(not(feature = "broker-api"))]
        return Err(format!(
            "fifo:{} needs the broker-api feature",
            path.display()
        ));
    })
    .await
    {
        error!("{err}");
        broker.stop_listeners();
        return ExitCode::FAILURE;
    }
    if let Some(pid_file) = &args.pid_file {
        if let Err(err) = std::fs::write(pid_file, std::process::id().to_string()) {
            error!("unable to write the pid file {}: {err}", pid_file.display());
            broker.stop_listeners();
            return ExitCode::FAILURE;
        }
    }
    info!("elbus broker started");
    let signal = wait_for_signal(access).await;
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

/// Waits for SIGTERM or SIGINT. With an access-control file, SIGHUP reloads it meanwhile (new
/// connections get the new rules; a file that fails to load keeps the old ones). Without one,
/// SIGHUP keeps its default action, as in busrtd.
async fn wait_for_signal(access: Option<(&std::path::Path, SharedAccessControl)>) -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("unable to install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    let mut hup = match &access {
        Some(_) => match signal(SignalKind::hangup()) {
            Ok(hup) => Some(hup),
            Err(err) => {
                error!("unable to install the SIGHUP handler, no reloads: {err}");
                None
            }
        },
        None => None,
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
                            shared.replace(rules);
                            info!("access control reloaded: {count} rules from {}", path.display());
                        }
                        Err(err) => warn!("access control not reloaded, the old rules stay: {err}"),
                    }
                }
            }
        }
    }
}
