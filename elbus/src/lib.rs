//! elbus: a Rust-native IPC broker and its clients, wire-compatible with version 1 of the
//! elbus / BUS/RT protocol.
//!
//! # Layout
//!
//! The crate is organised one concept per module:
//!
//! | module | what it is |
//! |---|---|
//! | [`protocol`] | wire constants, QoS, ops and the fixed-size headers of both directions |
//! | [`command`] | client→broker frame bodies: decoded into [`Command`]s, encoded by clients |
//! | [`frame`] | [`Frame`], a message/broadcast/publication delivered to a client |
//! | [`error`] | [`Error`] and [`ErrorKind`], which map one-to-one to wire result codes |
//! | [`broker`] | the embeddable broker: registry, routing, listeners, in-process clients |
//! | `allocator` | the binaries' C allocator settings: memory freed by large frames is kept (features `server`, `cli`) |
//! | [`server`] | the standalone server `elbusd`: options and config file, logging, systemd (readiness, socket activation), graceful shutdown |
//! | `federation` | brokers on several hosts joined into one bus over NATS: `name@node`, exported and imported publications (feature `federation`) |
//! | [`broker_api`] | the broker's own `.broker` client: announcements, RPC API, FIFO channel |
//! | [`client`] | the [`AsyncClient`] trait shared by all clients, [`OpConfirm`] |
//! | [`logging`] | log lines clients cannot forge or flood: escaping of their text, rate limits |
//! | [`metrics`] | the broker's counters as Prometheus metrics, and the `/metrics` endpoint (feature `metrics`) |
//! | [`matching`] | topic (`+`, `#`) and name-mask (`?`, `*`) matching, and the routing indexes |
//! | [`rpc`] | the byte RPC layer: calls, replies, errors and notifications over messages |
//! | `frame_deadline` | how long the rest of a frame may take once part of it has arrived: the progress and total bounds the broker and the socket client share (crate-private) |
//! | `sync` | the one helper that recovers a poisoned lock (crate-private) |
//! | `ipc` | the UNIX / TCP socket client `ipc::Client` and its `ipc::Config` (feature `ipc`) |
//! | `cli` | the command-line client `elbus`: options, commands, output, benchmark (feature `cli`) |
//!
//! The wire protocol is described byte for byte in the repository's `docs/protocol.md`;
//! section numbers in these docs (`§3.2`) refer to it. `docs/architecture.md` follows a frame
//! and an RPC call through these modules.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "server", feature = "cli"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "server", feature = "cli"))))]
pub mod allocator;
#[cfg(feature = "broker")]
#[cfg_attr(docsrs, doc(cfg(feature = "broker")))]
pub mod broker;
#[cfg(feature = "broker-api")]
#[cfg_attr(docsrs, doc(cfg(feature = "broker-api")))]
pub mod broker_api;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
pub mod client;
pub mod command;
pub mod error;
#[cfg(feature = "federation")]
#[cfg_attr(docsrs, doc(cfg(feature = "federation")))]
pub mod federation;
pub mod frame;
#[cfg(any(feature = "broker", feature = "ipc"))]
mod frame_deadline;
#[cfg(feature = "ipc")]
#[cfg_attr(docsrs, doc(cfg(feature = "ipc")))]
pub mod ipc;
pub mod logging;
pub mod matching;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
pub mod protocol;
#[cfg(feature = "rpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "rpc")))]
pub mod rpc;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
#[cfg(any(feature = "broker", feature = "ipc", feature = "rpc"))]
mod sync;

pub use client::{AsyncClient, ConnectionState, EventChannel, OpConfirm};
pub use command::Command;
pub use error::{Error, ErrorKind};
pub use frame::Frame;
pub use protocol::{FrameKind, QoS};

use std::time::Duration;

/// Default timeout of clients and of the embedded broker (1 s, as the original library).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default socket read/write buffer size of clients.
pub const DEFAULT_BUF_SIZE: usize = 8192;
/// Default length of a client's incoming frame channel.
pub const DEFAULT_QUEUE_SIZE: usize = 8192;
/// The crate version, reported by the broker's `info` method.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The author string the original broker reports in `info` (kept for wire compatibility).
pub const AUTHOR: &str = "(c) 2022 Bohemia Automation / Altertech";
