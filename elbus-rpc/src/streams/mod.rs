//! Pull streams (`#[rpc(stream)]`), wire-compatible with busrt cursors: the call opens a cursor
//! and answers `{"u": <16 bytes>}`; the caller pulls with `N {"u"}` (one item, empty payload
//! at the end) or `NB {"u", "n"}` (an array, fewer than `n` items when finished) and may close
//! it early with `rpc.cursor.close {"u"}`. See the repository's `docs/typed-rpc.md` §9.
//!
//! | module | what it holds |
//! |---|---|
//! | `table` | [`StreamTable`]: the open cursors of a router, their owners, TTLs and caps |
//! | `cursor` | the router's answers to `N`, `NB` and `rpc.cursor.close` |
//! | `encoded` | the adapter from a handler's typed stream to encoded items |
//! | `caller` | the type-erased transport the client streams send through |
//! | `pull` | [`PullStream`], the typed client end |
//! | `push`, `push_wire` | push streams with credit: the server's senders, and their messages |
//! | `watch` | [`PushStream`], the typed client end of a push stream |
//! | `inboxes` | [`PushInboxes`], where a client's push notifications land |

mod caller;
mod cursor;
mod encoded;
mod inboxes;
mod pull;
mod push;
mod push_wire;
mod table;
mod watch;

use std::time::Duration;

pub(crate) use cursor::{answer as answer_cursor, is_cursor_method, Opened, Pushed};
pub use encoded::{encode, ItemStream};
pub use inboxes::PushInboxes;
pub use pull::{PullStream, DEFAULT_PULL_BATCH};
pub(crate) use push_wire::Open as PushOpen;
pub(crate) use table::StreamTable;
pub use watch::{PushStream, DEFAULT_PUSH_CREDIT};

/// The method that returns the next item of a cursor (`{"u"}`): the item, or an empty payload
/// at the end.
pub const CURSOR_NEXT: &str = "N";
/// The method that returns the next `n` items of a cursor (`{"u", "n"}`) as an array; fewer
/// than `n` means the stream is finished.
pub const CURSOR_NEXT_BATCH: &str = "NB";
/// The method that closes a cursor early (`{"u"}`); the handler's stream is dropped.
pub const CURSOR_CLOSE: &str = "rpc.cursor.close";
/// The method that opens a push stream: `{"m": method, "p": <bin: its params>, "s": id chosen
/// by the caller, "c": initial credit}`; answers `{"s": id}`.
pub const PUSH_OPEN: &str = "rpc.stream.open";
/// The method that grants a push stream more credit: `{"s", "n"}` (usually a notification).
pub const PUSH_CREDIT: &str = "rpc.stream.credit";
/// The method that cancels a push stream: `{"s"}`; the handler's stream is dropped.
pub const PUSH_CANCEL: &str = "rpc.stream.cancel";
/// The code of a pull or close naming a cursor that is unknown, expired, closed, finished or
/// opened by another client.
pub const CODE_CURSOR_NOT_FOUND: i16 = -32001;

/// The server's limits on pull streams ([`RpcRouter::stream_limits`](crate::RpcRouter::stream_limits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// How long a cursor lives without a pull; each pull extends it. Default 30 s; an expired
    /// cursor is closed (its stream dropped) and its pulls get −32001.
    pub ttl: Duration,
    /// Open cursors per caller (primary name). Default 16; one more call is answered −32118.
    pub per_caller: usize,
    /// Open cursors of the router in all. Default 1024; one more call is answered −32118.
    pub total: usize,
    /// The largest `n` an `NB` may ask for. Default 1000; a larger one is answered −32602.
    pub max_batch: u32,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            ttl: Duration::from_secs(30),
            per_caller: 16,
            total: 1024,
            max_batch: 1000,
        }
    }
}
