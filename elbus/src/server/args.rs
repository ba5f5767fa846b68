//! Command-line options of `elbusd`, equivalent to `busrtd`'s (`protocol.md` §11).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use super::bind::BindAddress;
use crate::broker::{OverflowPolicy, QueueLimits, ServerConfig};

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
                  .broker/warn, removes its socket, FIFO and pid files, and exits 0."
)]
pub struct ServerArgs {
    /// Where to listen: a UNIX socket path (starts with `/` or ends with .sock, .socket or
    /// .ipc), HOST:PORT for TCP, or fifo:PATH for a FIFO command channel. Repeatable.
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

    /// Runtime worker threads.
    #[arg(short = 'w', long = "workers", default_value_t = 4, value_name = "N")]
    pub workers: usize,

    /// Timeout in seconds for handshakes, socket writes and frame reads. Keepalive NOPs are sent
    /// every timeout/2.
    #[arg(
        short = 't',
        long = "timeout",
        default_value_t = 5.0,
        value_name = "SECS"
    )]
    pub timeout: f64,

    /// Disconnect a client that sends nothing (not even a ping) for this many seconds; 0 never
    /// does. [default: 1.25 × timeout]
    #[arg(long = "idle-timeout", value_name = "SECS")]
    pub idle_timeout: Option<f64>,

    /// Per-client socket buffer size in bytes.
    #[arg(long = "buf-size", default_value_t = 16384, value_name = "BYTES")]
    pub buf_size: usize,

    /// Accepted for compatibility with busrtd and ignored: elbus writes a batch as soon as a
    /// client's queue drains instead of waiting for a timer.
    #[arg(long = "buf-ttl", value_name = "MICROSECS", hide_short_help = true)]
    pub buf_ttl: Option<u64>,

    /// Most frames queued for one client.
    #[arg(long = "queue-size", default_value_t = QueueLimits::DEFAULT_MAX_FRAMES, value_name = "FRAMES")]
    pub queue_size: usize,

    /// Most bytes queued for one client.
    #[arg(long = "queue-bytes", default_value_t = QueueLimits::DEFAULT_MAX_BYTES, value_name = "BYTES")]
    pub queue_bytes: usize,

    /// What to do when a client's queue is full.
    #[arg(long = "overflow", value_enum, default_value_t = OverflowArg::Disconnect)]
    pub overflow: OverflowArg,

    /// Largest frame body a client may send; a client announcing a larger one is disconnected.
    #[arg(long = "max-frame-size", default_value_t = ServerConfig::DEFAULT_MAX_FRAME_SIZE, value_name = "BYTES")]
    pub max_frame_size: u32,
}

impl ServerArgs {
    /// The parsed `-B` values, or the default socket when none is given.
    pub fn bind_addresses(&self) -> Result<Vec<BindAddress>, String> {
        if self.bind.is_empty() {
            return Ok(vec![BindAddress::Unix(PathBuf::from(
                super::DEFAULT_SOCKET,
            ))]);
        }
        self.bind.iter().map(|b| BindAddress::parse(b)).collect()
    }

    /// The listener settings these options describe.
    pub fn server_config(&self) -> ServerConfig {
        let timeout = Duration::from_secs_f64(self.timeout.max(0.001));
        let mut config = ServerConfig::new()
            .timeout(timeout)
            .buf_size(self.buf_size.max(512))
            .max_frame_size(self.max_frame_size)
            .queue(QueueLimits {
                max_frames: self.queue_size.max(1),
                max_bytes: self.queue_bytes.max(1),
                overflow: match self.overflow {
                    OverflowArg::Disconnect => OverflowPolicy::Disconnect,
                    OverflowArg::DropNewest => OverflowPolicy::DropNewest,
                    OverflowArg::DropOldest => OverflowPolicy::DropOldest,
                },
            });
        if let Some(idle) = self.idle_timeout {
            config = config.idle_timeout((idle > 0.0).then(|| Duration::from_secs_f64(idle)));
        }
        config
    }
}
