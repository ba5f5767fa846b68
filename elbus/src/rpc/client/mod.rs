//! [`RpcClient`]: calls, notifications and request handling over any elbus client, one concept
//! per file.
//!
//! | module | what it is |
//! |---|---|
//! | `options` | [`RpcOptions`], [`RpcStats`], [`DEFAULT_CALL_TIMEOUT`] |
//! | `pending` | the table of calls awaiting replies, and the guard that removes a call's entry |
//! | `shared` | the core the handles and tasks share: the client, the table, sending, replying |
//! | `handle` | [`RpcClient`], the cheap handle, and the background tasks it owns |
//! | `dispatch` | the loop that receives frames, completes calls and runs the handlers |
//! | `unregister` | failing calls whose callee the broker announces unregistered |
//! | `connection` | failing calls when the wrapped client's connection is lost |
//! | `pinger` | pinging a client with a timeout inside the broker's idle limit |

mod connection;
mod dispatch;
mod handle;
mod options;
mod pending;
mod pinger;
mod shared;
mod unregister;

pub use handle::RpcClient;
pub use options::{RpcOptions, RpcStats, DEFAULT_CALL_TIMEOUT};
