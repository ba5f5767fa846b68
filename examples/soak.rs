//! Soak test of a broker: request/reply calls, pub/sub, broadcasts and connection churn for a
//! chosen time, reporting throughput, refusals by reason, unexplained losses and the broker's
//! memory over time (see `tests/support/soak.rs` for the workload).
//!
//! ```text
//! cargo build --release --bin elbusd
//! cargo run --release --example soak -- --duration 1800 --report-every 60
//! cargo run --release --example soak -- --socket /tmp/elbus.sock --pid "$(pidof elbusd)"
//! ```
//!
//! Without `--socket` it starts the `elbusd` built next to it (or `--elbusd PATH`) on a
//! temporary socket and stops it at the end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use elbus_suite::broker::{workspace_binary, Broker, BrokerKind, Transport};
use elbus_suite::soak::{self, SoakOptions};

/// Command-line options of the soak program.
#[derive(Debug, Parser)]
#[command(about = "Soak test of an elbus broker")]
struct Args {
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Print a progress line every this many seconds.
    #[arg(long, default_value_t = 10)]
    report_every: u64,
    /// Use the broker at this path (UNIX socket or HOST:PORT) instead of starting one.
    #[arg(long)]
    socket: Option<String>,
    /// The process id of the broker at --socket, for memory samples.
    #[arg(long)]
    pid: Option<u32>,
    /// The elbusd binary to start (default: the one built next to this program).
    #[arg(long)]
    elbusd: Option<PathBuf>,
    /// Request/reply callers.
    #[arg(long, default_value_t = 4)]
    callers: usize,
    /// Publishers.
    #[arg(long, default_value_t = 2)]
    publishers: usize,
    /// Subscribers (they also receive the broadcasts).
    #[arg(long, default_value_t = 3)]
    subscribers: usize,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 256)]
    payload: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Kept alive for the whole run when this program started the broker.
    let mut started = None;
    let (path, pid) = match &args.socket {
        Some(path) => (path.clone(), args.pid),
        None => {
            let Some(binary) = args.elbusd.clone().or_else(|| workspace_binary("elbusd")) else {
                eprintln!("no elbusd next to this program: cargo build --bin elbusd, or --elbusd");
                return ExitCode::FAILURE;
            };
            let broker = Broker::start(&BrokerKind::elbusd(binary));
            let found = (broker.path(Transport::Unix), Some(broker.pid()));
            started = Some(broker);
            found
        }
    };
    let mut options = SoakOptions::new(&path, pid, Duration::from_secs(args.duration));
    options.report_every = Some(Duration::from_secs(args.report_every.max(1)));
    options.callers = args.callers;
    options.publishers = args.publishers;
    options.subscribers = args.subscribers;
    options.payload = args.payload;
    match soak::run(&options).await {
        Ok(report) => {
            println!("{report}");
            if let Some(broker) = &started {
                let log = broker.log();
                println!(
                    "  broker log   {} drop lines, {} forced-disconnect lines, {} client errors",
                    log.matches("dropped").count(),
                    log.matches("force unregistering").count(),
                    log.matches(" error: ").count()
                );
            }
            if report.unexplained == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("soak: {err}");
            ExitCode::FAILURE
        }
    }
}
