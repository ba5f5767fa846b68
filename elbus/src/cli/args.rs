//! Command-line options and commands of `elbus`, the same surface as the published `busrt` CLI
//! (`protocol.md` §12) plus `--json` and the benchmark's latency mode.

use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Args as ClapArgs, Parser, Subcommand};

/// The exit codes, shown at the end of `elbus --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the remote RPC handler answered with an error reply
  2  usage error: bad options or arguments, a k=v param without '='
  3  the target is not registered (no such client)
  4  timeout: connecting, waiting for an ACK or for an RPC reply
  5  any other failure: connection refused or lost, name taken, I/O error

Errors are reported as one line on stderr; stdout carries only results.";

/// `elbus`: the command-line client of an elbus or busrtd broker.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "elbus",
    version,
    about = "Command-line client of an elbus (or busrtd) broker: send, publish, listen, call \
             RPC methods, query the broker and benchmark it",
    after_help = EXIT_CODES,
    subcommand_required = true
)]
pub struct Args {
    /// The broker: a UNIX socket path (starts with `/` or ends with .sock, .socket or .ipc) or
    /// HOST:PORT for TCP.
    #[arg(value_name = "PATH_OR_HOST:PORT")]
    pub path: String,

    /// The client name to register; by default `cli.<hostname>.<pid>`.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,

    /// Socket read buffer size in bytes (at most 64 MiB: it is allocated up front).
    #[arg(long = "buf-size", default_value_t = 8192, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(1..=64 << 20).map(to_usize))]
    pub buf_size: usize,

    /// Length of the client's incoming and outgoing frame queues (at most 1_048_576).
    #[arg(long = "queue-size", default_value_t = 8192, value_name = "FRAMES",
          value_parser = clap::value_parser!(u64).range(1..=1 << 20).map(to_usize))]
    pub queue_size: usize,

    /// Seconds to wait for connecting, for each ACK and for each RPC reply.
    #[arg(long = "timeout", default_value_t = 5.0, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: f64,

    /// Log connection and frame details (trace level) on stderr.
    #[arg(short = 'v', long = "verbose", conflicts_with = "silent")]
    pub verbose: bool,

    /// No logging, no progress or ready lines on stderr; compact output: one-line JSON, plain
    /// text, raw bytes for binary payloads.
    #[arg(short = 's', long = "silent")]
    pub silent: bool,

    /// Print results as JSON for scripts: one JSON document per command (one per line for
    /// `listen` and `rpc listen`, one per frame).
    #[arg(long = "json", global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Args {
    /// The `--timeout` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout)
    }
}

/// Accepts a positive, finite number of seconds that a [`Duration`] can hold.
fn parse_secs(value: &str) -> Result<f64, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && Duration::try_from_secs_f64(secs).is_ok() {
        Ok(secs)
    } else {
        Err(format!("`{value}` must be a positive number of seconds"))
    }
}

/// The commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Query the broker's own `.broker` RPC API.
    #[command(subcommand)]
    Broker(BrokerCommand),

    /// Subscribe to topics and print every frame received (publications, messages,
    /// broadcasts) until interrupted or the connection ends.
    Listen(ListenArgs),

    /// Send a one-to-one message (or a broadcast when TARGET contains `*` or `?`) and wait for
    /// the broker's ACK; prints OK. A missing target exits 3.
    #[command(name = "send")]
    SendMessage {
        /// The target client name, or a broadcast mask such as `app.*`.
        target: String,
        /// The payload; read from stdin when omitted.
        payload: Option<String>,
    },

    /// Publish to a topic and wait for the broker's ACK; prints OK.
    Publish {
        /// The topic, e.g. `sensors/t1`.
        topic: String,
        /// The payload; read from stdin when omitted.
        payload: Option<String>,
    },

    /// RPC over one-to-one messages: serve, notify, call.
    #[command(subcommand)]
    Rpc(RpcCommand),

    /// Measure the broker's throughput (seven stages, as the published CLI), and optionally
    /// RPC and delivery latency percentiles.
    ///
    /// Stages, in order: rpc.call (`.broker` benchmark.test echoes the payload),
    /// rpc.call+handle (each client calls its own handler), rpc.call0 (to a missing target),
    /// then, with plain clients under the same names: send.qos.no and send.qos.processed (to a
    /// missing target), send+recv.qos.no and send+recv.qos.processed (to itself, counted on
    /// arrival, at most 1 MiB or four messages in flight per worker so that the loop stays
    /// within the broker's queue bounds). Each worker runs iters/workers iterations one after another. Progress shows
    /// on stderr when it is a terminal; failures are counted per stage, and the first one is
    /// reported after the table (with its exit code).
    Benchmark(BenchmarkArgs),

    /// A live view of the broker, refreshed every --interval: clients with their frame and
    /// byte rates in and out and their queue depths, topics by traffic, drops and denials,
    /// broker-wide totals. Keys (shown on screen): q, Esc or Ctrl-C quit; Left/Right (or < >)
    /// change the sort column; r reverses it. `--once --json` prints one snapshot for scripts
    /// (two samples one interval apart, so the rates are real) without touching the terminal.
    Top(TopArgs),
}

/// `top` options.
#[derive(Debug, Clone, ClapArgs)]
pub struct TopArgs {
    /// Seconds between samples (0.1 to 3600).
    #[arg(long = "interval", default_value_t = 1.0, value_name = "SECS",
          value_parser = parse_interval)]
    pub interval: f64,

    /// Take two samples one interval apart, print the snapshot and exit (needs --json).
    #[arg(long = "once")]
    pub once: bool,
}

impl TopArgs {
    /// The `--interval` as a duration.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.interval)
    }
}

/// Accepts a `top --interval`: 0.1 to 3600 seconds.
fn parse_interval(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(secs) if (0.1..=3600.0).contains(&secs) => Ok(secs),
        _ => Err(format!("`{value}` must be seconds from 0.1 to 3600")),
    }
}

/// `broker …`: the `.broker` RPC methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum BrokerCommand {
    /// Call `.broker` `test`; prints its reply ({"ok": true}).
    Test,
    /// The broker's author and version.
    Info,
    /// The broker's frame and byte counters and uptime.
    Stats,
    /// The connected clients with their counters (this CLI's own client left out).
    #[command(name = "client.list")]
    ClientList,
}

/// `listen` options.
#[derive(Debug, Clone, ClapArgs)]
pub struct ListenArgs {
    /// A topic pattern to subscribe to (`+` one level, `#` the rest); repeatable. Without any,
    /// only messages, broadcasts and the broker's `.broker/warn` announcements arrive.
    #[arg(short = 't', long = "topics", value_name = "TOPIC")]
    pub topics: Vec<String>,

    /// A topic pattern to exclude from the subscriptions; repeatable (needs busrtd ≥ 0.5 or
    /// elbusd).
    #[arg(long = "exclude", value_name = "TOPIC")]
    pub exclude: Vec<String>,
}

/// `rpc …`.
#[derive(Debug, Clone, Subcommand)]
pub enum RpcCommand {
    /// Serve RPC: print every call and notification received (and frames on the topics), and
    /// answer every call with an empty reply.
    Listen {
        /// A topic pattern to subscribe to as well; repeatable.
        #[arg(short = 't', long = "topics", value_name = "TOPIC")]
        topics: Vec<String>,
    },
    /// Send an RPC notification; prints OK once the broker ACKed it.
    Notify {
        /// The target client name.
        target: String,
        /// The notification data; read from stdin when omitted.
        payload: Option<String>,
    },
    /// Call a method without waiting for its result (call id 0); prints OK after the ACK.
    Call0(CallArgs),
    /// Call a method and print its result. An error reply prints `RPC error CODE: MESSAGE`
    /// on stderr and exits 1.
    Call(CallArgs),
    /// Show the schema of a typed service (its `rpc.describe` method): services, methods with
    /// their params and types, docs and error codes. `--json` prints the schema as is.
    Describe {
        /// The target client name.
        target: String,
    },
    /// Print a typed client module generated from a service's schema (its `rpc.describe`, or
    /// a file saved with `rpc describe --json`): for Python, TypedDicts for its types, a client
    /// class with annotated methods, exception classes with their codes, event topics and
    /// decoders (`mypy --strict` clean).
    Codegen {
        /// The target client name: the service to describe, and the generated client's default
        /// target.
        target: String,
        /// Generate Python (the one language so far; required).
        #[arg(long = "python", required = true)]
        python: bool,
        /// Read the schema from this file (`rpc describe --json` output) instead of calling the
        /// service; nothing is connected then.
        #[arg(long = "schema", value_name = "FILE")]
        schema: Option<std::path::PathBuf>,
    },
}

/// The target, method and params of `rpc call` and `rpc call0`.
#[derive(Debug, Clone, ClapArgs)]
pub struct CallArgs {
    /// The target client name.
    pub target: String,
    /// The method name.
    pub method: String,
    /// The params: `key=value` pairs sent as a MessagePack map (`true`/`false` → bool, an
    /// integer → int, a decimal → float, anything else → string), or a single `-` to send
    /// stdin as is. None: empty params.
    #[arg(value_name = "PARAMS")]
    pub params: Vec<String>,
}

/// `benchmark` options.
#[derive(Debug, Clone, ClapArgs)]
pub struct BenchmarkArgs {
    /// Parallel clients (`<name>-1` … `<name>-N`).
    #[arg(short = 'w', long = "workers", default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub workers: u32,

    /// Payload size in bytes (at most 64 MiB).
    #[arg(long = "payload-size", default_value_t = 100, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(0..=64 << 20).map(to_usize))]
    pub payload_size: usize,

    /// Iterations of each stage, split evenly among the workers.
    #[arg(short = 'i', long = "iters", default_value_t = 1_000_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub iters: u64,

    /// Also measure latency percentiles (p50, p99, p99.9) of single-client RPC round trips
    /// and of one-way message delivery, one message in flight at a time, and the round trip of
    /// a bare UNIX socket pair in the same run, with the RPC p50's ratio to it.
    #[arg(long = "latency")]
    pub latency: bool,

    /// Samples taken by each latency stage.
    #[arg(long = "latency-iters", default_value_t = 10_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub latency_iters: u64,

    /// Also measure, in the same run, the one-way rate of a bare UNIX socket pair for this
    /// payload (one write per message, as many messages as a send stage), printed after the
    /// table: the bound of the send stages. (`--latency` always measures the raw round trip.)
    #[arg(long = "raw-socket")]
    pub raw_socket: bool,

    /// Print `stage started: NAME` and `stage completed: NAME` on stderr around each stage,
    /// as the busrt CLI logs them, for scripts that read each stage's CPU time from /proc.
    #[arg(long = "stage-marks")]
    pub stage_marks: bool,
}

/// Converts a range-checked `u64` option; the ranges above fit any `usize` of 32 bits or more.
fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn parses_the_published_cli_forms() {
        let args = Args::try_parse_from([
            "elbus",
            "-n",
            "me",
            "--timeout",
            "2.5",
            "/tmp/b.sock",
            "rpc",
            "call",
            ".broker",
            "benchmark.test",
            "a=1",
            "b=x",
        ])
        .unwrap();
        assert_eq!(args.name.as_deref(), Some("me"));
        assert_eq!(args.timeout(), Duration::from_millis(2500));
        let Command::Rpc(RpcCommand::Call(call)) = args.command else {
            panic!("not rpc call")
        };
        assert_eq!(call.params, ["a=1", "b=x"]);

        let args =
            Args::try_parse_from(["elbus", "h:1", "broker", "client.list", "--json"]).unwrap();
        assert!(args.json);
        assert!(matches!(
            args.command,
            Command::Broker(BrokerCommand::ClientList)
        ));

        let args = Args::try_parse_from([
            "elbus",
            "h:1",
            "listen",
            "-t",
            "a/#",
            "-t",
            "b",
            "--exclude",
            "a/x",
        ])
        .unwrap();
        let Command::Listen(listen) = args.command else {
            panic!("not listen")
        };
        assert_eq!(listen.topics, ["a/#", "b"]);
        assert_eq!(listen.exclude, ["a/x"]);
    }

    #[test]
    fn rejects_bad_numbers() {
        for timeout in ["0", "-1", "nan", "inf", "x"] {
            assert!(
                Args::try_parse_from(["elbus", "--timeout", timeout, "p", "broker", "test"])
                    .is_err(),
                "{timeout}"
            );
        }
        assert!(Args::try_parse_from(["elbus", "p", "benchmark", "-w", "0"]).is_err());
        assert!(Args::try_parse_from(["elbus", "p", "benchmark", "-i", "0"]).is_err());
        let huge = (1u64 << 40).to_string();
        assert!(
            Args::try_parse_from(["elbus", "p", "benchmark", "--payload-size", &huge]).is_err()
        );
        assert!(
            Args::try_parse_from(["elbus", "--buf-size", &huge, "p", "broker", "test"]).is_err()
        );
        assert!(
            Args::try_parse_from(["elbus", "--queue-size", "0", "p", "broker", "test"]).is_err()
        );
        for interval in ["0", "0.05", "3601", "nan", "x"] {
            assert!(
                Args::try_parse_from(["elbus", "p", "top", "--interval", interval]).is_err(),
                "{interval}"
            );
        }
        let args = Args::try_parse_from(["elbus", "p", "top", "--once", "--json"]).unwrap();
        let Command::Top(top) = args.command else {
            panic!("not top")
        };
        assert!(top.once && args.json);
        assert_eq!(top.interval(), Duration::from_secs(1));
    }
}
