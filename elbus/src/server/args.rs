//! Command-line options of `elbusd`, equivalent to `busrtd`'s (`protocol.md` §11).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use super::bind::BindAddress;
use crate::broker::{BrokerOptions, OverflowPolicy, PathLimits, QueueLimits, ServerConfig};

/// CPUs this process may run on (its affinity mask, as `taskset` sets it).
fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The default `-w`: half the CPUs this process may use, at least 1 and at most 4.
pub fn default_workers() -> usize {
    workers_for(usable_cpus())
}

fn workers_for(cpus: usize) -> usize {
    (cpus / 2).clamp(1, 4)
}

/// The default `--busy-poll` in microseconds: [`BrokerOptions::DEFAULT_SERVER_BUSY_POLL`], or
/// 0 on a single CPU, where polling would only take the CPU from the clients it waits for.
pub fn default_busy_poll_micros() -> u64 {
    busy_poll_micros_for(usable_cpus())
}

fn busy_poll_micros_for(cpus: usize) -> u64 {
    if cpus > 1 {
        BrokerOptions::DEFAULT_SERVER_BUSY_POLL
            .as_micros()
            .try_into()
            .unwrap_or(u64::MAX)
    } else {
        0
    }
}

/// What to do with a client whose outbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OverflowArg {
    /// Disconnect the slow client (the original broker's rule).
    Disconnect,
    /// Drop the frame that does not fit.
    DropNewest,
    /// Drop the oldest queued frames to make room.
    DropOldest,
}

/// `elbusd`: the elbus broker server.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "elbusd",
    version,
    about = "elbus broker server: one-to-one messages, broadcasts and pub/sub over UNIX \
             sockets and TCP, wire-compatible with BUS/RT protocol v1",
    after_help = "Stops gracefully on SIGINT or SIGTERM: announces the shutdown on \
                  .broker/warn, removes its socket, FIFO and pid files, and exits 0. With --acl \
                  (or rules in the --config file), SIGHUP reloads the access-control rules for \
                  new connections; without them, SIGHUP is logged and ignored. Each socket or FIFO PATH is owned through \
                  an flock'ed PATH.lock beside it: a second elbusd on the same path exits \
                  non-zero. Under systemd, READY=1 and STOPPING=1 go to NOTIFY_SOCKET, and \
                  sockets passed by socket activation (LISTEN_FDS) are served like -B ones."
)]
pub struct ServerArgs {
    /// Read the settings from this TOML file first (see deploy/elbusd.toml): its keys are the
    /// long options below; the command line overrides it (one -B replaces all its listeners).
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where to listen: a UNIX socket path (starts with `/` or ends with .sock, .socket or
    /// .ipc), HOST:PORT for TCP, or fifo:PATH for a FIFO command channel. Repeatable.
    /// The FIFO is a privileged channel: its lines run as .broker, unchecked by --acl, so
    /// whoever may write it may message, publish as and disconnect anyone; it gets the
    /// --socket-mode and --socket-group of the sockets (0660 by default).
    /// [default: /tmp/elbus.sock]
    #[arg(short = 'B', long = "bind", value_name = "PATH_OR_HOST:PORT")]
    pub bind: Vec<String>,

    /// Write the process id to this file; it is removed on exit.
    #[arg(short = 'P', long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,

    /// Log at trace level (every client registration, message, ping).
    #[arg(long)]
    pub verbose: bool,

    /// When a name is already registered, disconnect the previous instance instead of
    /// answering Busy (0x76).
    #[arg(long = "force-register")]
    pub force_register: bool,

    /// Runtime worker threads. The default is half the CPUs, between 1 and 4: the clients of a
    /// local bus run on the same machine, and on a small one extra broker threads mostly add
    /// wake-ups (each connection's frames are routed and written by the task that reads them).
    #[arg(short = 'w', long = "workers", default_value_t = default_workers(), value_name = "N",
          value_parser = |v: &str| parse_in_range(v, 1, MAX_WORKERS))]
    pub workers: usize,

    /// After socket input, keep one worker polling for more for this many microseconds before
    /// it may sleep; 0 never polls. Trades a little CPU under load for fewer thread wake-ups
    /// (lower latency, higher round-trip rates); an idle broker parks after the window. The
    /// default is 10, or 0 on a single CPU. At most 1000000 (1 s).
    #[arg(long = "busy-poll", value_name = "MICROSECS",
          default_value_t = default_busy_poll_micros(),
          value_parser = |v: &str| parse_in_range(v, 0, max_busy_poll_micros()))]
    pub busy_poll: u64,

    /// Timeout in seconds for handshakes, socket writes and frame reads (0.001 to 86400).
    /// Keepalive NOPs are sent every timeout/2.
    #[arg(
        short = 't',
        long = "timeout",
        default_value_t = 5.0,
        value_name = "SECS",
        value_parser = |v: &str| parse_seconds(v, false)
    )]
    pub timeout: f64,

    /// Disconnect a client that sends nothing (not even a ping) for this many seconds (0.001
    /// to 86400); 0 never does. [default: 1.25 × timeout]
    #[arg(long = "idle-timeout", value_name = "SECS",
          value_parser = |v: &str| parse_seconds(v, true))]
    pub idle_timeout: Option<f64>,

    /// Per-client socket buffer size in bytes (512 to 16777216).
    #[arg(long = "buf-size", default_value_t = 16384, value_name = "BYTES",
          value_parser = |v: &str| parse_in_range(v, ServerConfig::MIN_BUF_SIZE, ServerConfig::MAX_BUF_SIZE))]
    pub buf_size: usize,

    /// Accepted for compatibility with busrtd and ignored: elbus writes a batch as soon as a
    /// client's queue drains instead of waiting for a timer.
    #[arg(long = "buf-ttl", value_name = "MICROSECS", hide_short_help = true)]
    pub buf_ttl: Option<u64>,

    /// Most frames queued for one client (at least 1).
    #[arg(long = "queue-size", default_value_t = QueueLimits::DEFAULT_MAX_FRAMES, value_name = "FRAMES",
          value_parser = |v: &str| parse_at_least(v, 1))]
    pub queue_size: usize,

    /// Most bytes queued for one client (at least 4096).
    #[arg(long = "queue-bytes", default_value_t = QueueLimits::DEFAULT_MAX_BYTES, value_name = "BYTES",
          value_parser = |v: &str| parse_at_least(v, QueueLimits::MIN_MAX_BYTES))]
    pub queue_bytes: usize,

    /// Most bytes queued for all clients together (each frame at its memory cost). Once it is
    /// reached, a client with a backlog (a second large frame, or over 64 KiB in smaller ones)
    /// gets --overflow; a client that keeps up still gets its frames.
    #[arg(long = "max-queued-bytes", default_value_t = BrokerOptions::DEFAULT_MAX_QUEUED_BYTES, value_name = "BYTES")]
    pub max_queued_bytes: usize,

    /// Most bytes of large frames being read from all clients together; a client whose frame
    /// does not fit waits (within -t) until it does. At least --max-frame-size + 9.
    #[arg(long = "max-reading-bytes", default_value_t = BrokerOptions::DEFAULT_MAX_READING_BYTES, value_name = "BYTES")]
    pub max_reading_bytes: usize,

    /// What to do when a client's queue is full.
    #[arg(long = "overflow", value_enum, default_value_t = OverflowArg::Disconnect)]
    pub overflow: OverflowArg,

    /// Largest frame body a client may send (256 to 4294967295); a client announcing a larger
    /// one is disconnected.
    #[arg(long = "max-frame-size", default_value_t = ServerConfig::DEFAULT_MAX_FRAME_SIZE, value_name = "BYTES",
          value_parser = |v: &str| parse_in_range(v, ServerConfig::MIN_MAX_FRAME_SIZE, u32::MAX))]
    pub max_frame_size: u32,

    /// Permission bits (octal) of the UNIX socket and FIFO files; a client needs write
    /// permission to connect (or to write FIFO lines). `umask` leaves what the process umask
    /// gives, as busrtd does for sockets.
    #[arg(long = "socket-mode", default_value = "660", value_name = "OCTAL|umask", value_parser = parse_mode)]
    pub socket_mode: SocketMode,

    /// Group (name or gid) of the UNIX socket and FIFO files. [default: the process's group]
    #[arg(long = "socket-group", value_name = "GROUP")]
    pub socket_group: Option<String>,

    /// Access-control rules (TOML; see elbus/examples/acl.toml): which peers may register which
    /// names and what each client may do. A broadcast mask or subscription pattern must be
    /// contained in a rule pattern; a rule with uids/gids but no networks refuses TCP peers.
    /// Reloaded on SIGHUP for new connections. Without it (and without `[[acl.client]]`
    /// tables in the --config file), nothing is checked.
    #[arg(long = "acl", value_name = "FILE")]
    pub acl: Option<PathBuf>,

    /// Longest client name or broadcast mask, in bytes; a longer name is refused at
    /// registration (0x72), a longer mask gets ACK 0x72.
    #[arg(long = "max-name-bytes", value_name = "BYTES", value_parser = at_least_one(),
          default_value_t = PathLimits::DEFAULT_MAX_BYTES)]
    pub max_name_bytes: usize,

    /// Longest topic or subscription/exclusion pattern, in bytes (longer ones get ACK 0x72).
    #[arg(long = "max-topic-bytes", value_name = "BYTES", value_parser = at_least_one(),
          default_value_t = PathLimits::DEFAULT_MAX_BYTES)]
    pub max_topic_bytes: usize,

    /// Most parts (`.` in names and masks, `/` in topics and patterns) of any of them; more
    /// are refused with 0x72.
    #[arg(long = "max-parts", value_name = "PARTS", value_parser = at_least_one(),
          default_value_t = PathLimits::DEFAULT_MAX_PARTS)]
    pub max_parts: usize,

    /// Most subscriptions and exclusions one client may hold together (its automatic
    /// .broker/warn subscription included); each pattern past it gets ACK 0x74.
    #[arg(long = "max-subscriptions", value_name = "N", value_parser = at_least_one(),
          default_value_t = BrokerOptions::DEFAULT_MAX_SUBSCRIPTIONS)]
    pub max_subscriptions: usize,

    /// Serve Prometheus metrics over HTTP at ADDR: HOST:PORT, or a bare PORT for
    /// 127.0.0.1:PORT (port 0 picks a free one; the bound address is logged). GET /metrics
    /// gives the text format, GET /healthz `ok`. At most 4 connections at once, a request head
    /// of at most 8 KiB sent within 5 s; one request per connection. [default: off]
    #[arg(long = "metrics", value_name = "ADDR", value_parser = parse_metrics_addr)]
    pub metrics: Option<String>,

    /// Add one series per client to the metrics, labelled with its name (their number follows
    /// the number of clients, and clients choose their names). Needs --metrics.
    #[arg(long = "metrics-per-client")]
    pub metrics_per_client: bool,

    /// Federation over NATS (`--federation`, `--node`, `--federation-*`).
    #[cfg(feature = "federation")]
    #[command(flatten)]
    pub federation: super::federation_args::FederationArgs,
}

/// Parses `--metrics`: `HOST:PORT`, or a bare `PORT` meaning `127.0.0.1:PORT`.
fn parse_metrics_addr(value: &str) -> Result<String, String> {
    const EXPECTED: &str = "expected HOST:PORT or PORT, with PORT from 0 to 65535";
    let (host, port) = value.rsplit_once(':').unwrap_or(("127.0.0.1", value));
    let valid_host = !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || c == '/');
    match port.parse::<u16>() {
        Ok(port) if valid_host && !value.starts_with(':') => Ok(format!("{host}:{port}")),
        _ => Err(EXPECTED.to_owned()),
    }
}

/// A parser of counts and sizes that must be at least 1 (0 would refuse everything).
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

/// The `--socket-mode` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketMode(pub Option<u32>);

fn parse_mode(value: &str) -> Result<SocketMode, String> {
    if value == "umask" {
        return Ok(SocketMode(None));
    }
    u32::from_str_radix(value.trim_start_matches("0o"), 8)
        .ok()
        .filter(|mode| *mode <= 0o777)
        .map(|mode| SocketMode(Some(mode)))
        .ok_or_else(|| {
            "expected octal permission bits from 0 to 777 (such as 660), or `umask`".to_owned()
        })
}

/// Most runtime worker threads `-w` accepts.
const MAX_WORKERS: usize = 1024;

fn max_busy_poll_micros() -> u64 {
    BrokerOptions::MAX_BUSY_POLL
        .as_micros()
        .try_into()
        .unwrap_or(u64::MAX)
}

/// Parses an integer option and checks it lies in `min..=max`.
fn parse_in_range<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let parsed: T = value
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number from {min} to {max}"))?;
    if parsed < min || parsed > max {
        return Err(format!("must be from {min} to {max}"));
    }
    Ok(parsed)
}

/// Parses a byte or frame count and checks it is at least `min`.
fn parse_at_least(value: &str, min: usize) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(parsed) if parsed >= min => Ok(parsed),
        _ => Err(format!("expected a whole number of at least {min}")),
    }
}

/// Parses a time option in seconds: a finite number within the bounds of
/// [`ServerConfig::MIN_TIMEOUT`] and [`ServerConfig::MAX_TIMEOUT`] (or 0 when `zero_is_never`).
fn parse_seconds(value: &str, zero_is_never: bool) -> Result<f64, String> {
    let (min, max) = (
        ServerConfig::MIN_TIMEOUT.as_secs_f64(),
        ServerConfig::MAX_TIMEOUT.as_secs_f64(),
    );
    let never = if zero_is_never { " (0: never)" } else { "" };
    let range = format!("expected seconds from {min} to {max}{never}");
    let secs: f64 = value.trim().parse().map_err(|_| range.clone())?;
    if zero_is_never && secs == 0.0 {
        return Ok(secs);
    }
    if !secs.is_finite() || secs < min || secs > max {
        return Err(range);
    }
    Ok(secs)
}

impl ServerArgs {
    /// Checks what the option parser cannot: the `-B` values, the socket group and the
    /// settings together ([`ServerConfig::validate_with`], [`BrokerOptions::validate`]). Returns the
    /// bind addresses and the listener settings (with the socket group), or one line saying
    /// what is wrong.
    pub fn validate(&self) -> Result<(Vec<BindAddress>, ServerConfig), String> {
        if self.metrics_per_client && self.metrics.is_none() {
            return Err("--metrics-per-client needs --metrics ADDR".to_owned());
        }
        #[cfg(feature = "federation")]
        self.federation.config()?;
        let binds = self.bind_addresses()?;
        let config = self.server_config().unix_group(self.socket_gid()?);
        let options = self.broker_options();
        options.validate().map_err(|err| err.to_string())?;
        config
            .validate_with(&options)
            .map_err(|err| err.to_string())?;
        Ok((binds, config))
    }

    /// The parsed `-B` values, or the default socket when none is given.
    pub fn bind_addresses(&self) -> Result<Vec<BindAddress>, String> {
        if self.bind.is_empty() {
            return Ok(vec![BindAddress::Unix(PathBuf::from(
                super::DEFAULT_SOCKET,
            ))]);
        }
        self.bind.iter().map(|b| BindAddress::parse(b)).collect()
    }

    /// The gid of `--socket-group` (a group name or a number).
    pub fn socket_gid(&self) -> Result<Option<u32>, String> {
        self.socket_group.as_deref().map(group_id).transpose()
    }

    /// The broker-wide options these arguments describe.
    pub fn broker_options(&self) -> BrokerOptions {
        BrokerOptions {
            force_register: self.force_register,
            busy_poll: Duration::from_micros(self.busy_poll),
            max_queued_bytes: self.max_queued_bytes,
            max_reading_bytes: self.max_reading_bytes,
            name_limits: PathLimits {
                max_bytes: self.max_name_bytes,
                max_parts: self.max_parts,
            },
            topic_limits: PathLimits {
                max_bytes: self.max_topic_bytes,
                max_parts: self.max_parts,
            },
            max_subscriptions: self.max_subscriptions,
            ..BrokerOptions::default()
        }
    }

    /// The listener settings these options describe (the socket group and the access-control
    /// rules, which need a look-up or a file, are added by the caller).
    pub fn server_config(&self) -> ServerConfig {
        // The parser keeps the seconds finite and within a day, so the conversions cannot
        // panic; anything else that slips through is caught by `ServerConfig::validate`.
        let seconds = |secs: f64| Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
        let mut config = ServerConfig::new()
            .timeout(seconds(self.timeout))
            .buf_size(self.buf_size)
            .max_frame_size(self.max_frame_size)
            .queue(QueueLimits {
                max_frames: self.queue_size,
                max_bytes: self.queue_bytes,
                overflow: match self.overflow {
                    OverflowArg::Disconnect => OverflowPolicy::Disconnect,
                    OverflowArg::DropNewest => OverflowPolicy::DropNewest,
                    OverflowArg::DropOldest => OverflowPolicy::DropOldest,
                },
            });
        config = config.unix_mode(self.socket_mode.0);
        if let Some(idle) = self.idle_timeout {
            config = config.idle_timeout((idle > 0.0).then(|| seconds(idle)));
        }
        config
    }
}

/// The gid of a `--socket-group` value: a number, or a group name looked up.
pub(super) fn group_id(group: &str) -> Result<u32, String> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    lookup_group(group).ok_or_else(|| format!("unknown group {group:?}"))
}

/// The gid of the group `name`, through the system's group database (NSS).
fn lookup_group(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives the use of `group`.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut group,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(group.gr_gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_mode_and_group() {
        let args = ServerArgs::parse_from(["elbusd"]);
        assert_eq!(args.server_config().unix_mode, Some(0o660));
        assert_eq!(args.socket_gid(), Ok(None));
        let args =
            ServerArgs::parse_from(["elbusd", "--socket-mode", "0o600", "--socket-group", "0"]);
        assert_eq!(args.server_config().unix_mode, Some(0o600));
        assert_eq!(args.socket_gid(), Ok(Some(0)));
        let args =
            ServerArgs::parse_from(["elbusd", "--socket-mode", "umask", "--socket-group", "root"]);
        assert_eq!(args.server_config().unix_mode, None);
        assert_eq!(args.socket_gid(), Ok(Some(0)));
        assert!(ServerArgs::try_parse_from(["elbusd", "--socket-mode", "9"]).is_err());
        let args = ServerArgs::parse_from(["elbusd", "--socket-group", "no-such-group-x"]);
        assert!(args.socket_gid().is_err());
    }

    #[test]
    fn worker_and_busy_poll_defaults() {
        let args = ServerArgs::parse_from(["elbusd"]);
        assert!((1..=4).contains(&args.workers));
        assert_eq!(args.workers, default_workers());
        assert_eq!(args.busy_poll, default_busy_poll_micros());
        assert_eq!(
            args.broker_options().busy_poll,
            Duration::from_micros(default_busy_poll_micros())
        );
        let by_cpus: Vec<_> = [1, 2, 3, 4, 8, 64]
            .into_iter()
            .map(|cpus| (workers_for(cpus), busy_poll_micros_for(cpus)))
            .collect();
        assert_eq!(
            by_cpus,
            [(1, 0), (1, 10), (1, 10), (2, 10), (4, 10), (4, 10)]
        );
        let args = ServerArgs::parse_from(["elbusd", "-w", "8", "--busy-poll", "0"]);
        assert_eq!(args.workers, 8);
        assert!(args.broker_options().busy_poll.is_zero());
        assert!(!args.broker_options().force_register);
    }

    #[test]
    fn metrics_addresses() {
        let parse = |v: &str| parse_metrics_addr(v);
        assert_eq!(parse("9100").as_deref(), Ok("127.0.0.1:9100"));
        assert_eq!(parse("0").as_deref(), Ok("127.0.0.1:0"));
        assert_eq!(parse("0.0.0.0:9100").as_deref(), Ok("0.0.0.0:9100"));
        assert_eq!(parse("[::1]:9100").as_deref(), Ok("[::1]:9100"));
        assert_eq!(parse("localhost:1").as_deref(), Ok("localhost:1"));
        for bad in [
            "",
            ":9100",
            "x",
            "65536",
            "-1",
            "host:",
            "host:port",
            "a b:1",
            "/x:1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ServerArgs::parse_from(["elbusd"]).metrics, None);
        let alone = ServerArgs::parse_from(["elbusd", "--metrics-per-client"]);
        assert!(alone.validate().unwrap_err().contains("--metrics ADDR"));
        let args = ServerArgs::parse_from(["elbusd", "--metrics", "9", "--metrics-per-client"]);
        assert_eq!(
            (args.metrics.as_deref(), args.metrics_per_client),
            (Some("127.0.0.1:9"), true)
        );
    }

    #[test]
    fn name_and_topic_limits() {
        let options = ServerArgs::parse_from(["elbusd"]).broker_options();
        assert_eq!(options.name_limits, PathLimits::default());
        assert_eq!(options.topic_limits, PathLimits::default());
        assert_eq!(
            options.max_subscriptions,
            BrokerOptions::DEFAULT_MAX_SUBSCRIPTIONS
        );
        let options = ServerArgs::parse_from([
            "elbusd",
            "--max-name-bytes",
            "64",
            "--max-topic-bytes",
            "4096",
            "--max-parts",
            "8",
            "--max-subscriptions",
            "3",
        ])
        .broker_options();
        assert_eq!(
            (options.name_limits.max_bytes, options.name_limits.max_parts),
            (64, 8)
        );
        assert_eq!(
            (
                options.topic_limits.max_bytes,
                options.topic_limits.max_parts
            ),
            (4096, 8)
        );
        assert_eq!(options.max_subscriptions, 3);
        for option in [
            "--max-name-bytes",
            "--max-topic-bytes",
            "--max-parts",
            "--max-subscriptions",
        ] {
            for bad in ["0", "-1", "x", "99999999999999999999999"] {
                assert!(
                    ServerArgs::try_parse_from(["elbusd", option, bad]).is_err(),
                    "{option} {bad}"
                );
            }
        }
    }
}
