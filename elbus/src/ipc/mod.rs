//! The socket client: talks to an elbus or busrtd broker over a UNIX or TCP socket.
//!
//! ```no_run
//! use elbus::ipc::{Client, Config};
//! use elbus::{AsyncClient, QoS};
//!
//! # async fn demo() -> Result<(), elbus::Error> {
//! let client = Client::connect(&Config::new("/tmp/elbus.sock", "app.worker")).await?;
//! let mut events = client.take_event_channel().expect("taken once");
//! client.subscribe("sensors/#", QoS::Processed).await?.await?;
//! client.send("app.other", b"hello", QoS::Processed).await?.await?;
//! while let Some(frame) = events.recv().await {
//!     println!("{} from {}: {:?}", frame.kind() as u8, frame.sender(), frame.payload());
//! }
//! // The channel ended: the connection is gone.
//! # Ok(())
//! # }
//! ```
//!
//! # How a connection works
//!
//! * [`Client::connect`] opens the socket (§1 path rules; TCP gets `TCP_NODELAY`), does the
//!   handshake of §2 and registers the name, all within the configured timeout.
//! * Every operation encodes its frame and puts it in a bounded queue. The op id (1, 2, 3, …,
//!   wrapping to 1) is assigned, the ACK waiter registered and the frame queued under one lock, so
//!   ids reach the wire in order and an ACK can never arrive before its waiter exists.
//! * The queue is bounded in frames (`queue_size`) and in bytes (4 MiB; a larger frame alone): a
//!   send waits for room, so large frames cannot pile up in memory faster than the socket drains.
//! * One writer task drains the queue: whatever is queued (up to about `buf_size` bytes) goes out in
//!   one vectored write as soon as the queue is empty — no flush timer, so realtime frames need no
//!   special path; frames of 16 KiB and more are written from their own buffer, never copied. A
//!   write may go one timeout without progress, and take one timeout per MiB more in all; a failed
//!   or timed-out write closes the connection.
//! * One reader task reads 6-byte headers (§4): NOPs are skipped, ACKs resolve their waiters,
//!   messages, broadcasts and publications go to the event channel. When the application stops
//!   consuming, the reader stops reading once the channel is full. An unknown kind or a broken body
//!   closes the connection, and so does a body that misses the writes' bounds.
//! * When the connection ends, whichever way, the client is disconnected at once, pending ACKs fail
//!   with [`ErrorKind::Eof`](crate::ErrorKind::Eof) and the event channel ends.
//! * With [`Config::reconnect`], a lost connection is not the end: the client reports
//!   [`ConnectionState::Reconnecting`] at once (see [`Client::watch_connection`]), connects again
//!   with backoff, registers, restores its subscriptions and exclusions, and reports
//!   [`ConnectionState::Connected`]; the event channel stays the same. Pending ACKs still fail at
//!   once when the connection drops, and operations fail with `Eof` until it is back.
//! * There is no automatic ping unless [`Config::ping_interval`] sets one, as in the original plain
//!   client; a busrtd ≥ 0.5.4 drops clients idle for 1.25 × its timeout (§5).

//!
//! # Layout
//!
//! | module | what it is |
//! |---|---|
//! | `client` | [`Client`], the handle: the operations, queued on the current connection |
//! | `config` | [`Config`], [`ReconnectPolicy`] and the path rules that pick the transport |
//! | `connector` | opening a connection: socket, handshake, tasks, restoring subscriptions |
//! | `reconnect` | the supervisor that notices a loss and reconnects with backoff |
//! | `topics` | the subscriptions and exclusions recorded for replay |
//! | `state` | what a connection's tasks share: op ids, pending ACKs, shutdown |
//! | `reader`, `writer` | the connection's reader and writer (and pinger) tasks |

mod client;
mod config;
mod connector;
mod reader;
mod reconnect;
mod state;
mod topics;
mod writer;

pub use crate::client::ConnectionState;
pub use client::Client;
pub use config::{Config, ReconnectPolicy};

#[cfg(test)]
mod tests;
