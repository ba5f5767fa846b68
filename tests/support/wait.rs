//! The one bound of every wait in the tests, and [`within`], which applies it.
//!
//! The bound only turns a hang into a failure: nothing asserts on how long anything took, so it
//! is generous enough for a loaded 2-core machine.

use std::future::Future;
use std::time::Duration;

/// How long any test waits for something that must happen (a frame, an ACK, a process's line).
pub const WAIT: Duration = Duration::from_secs(30);

/// Awaits `fut` for at most [`WAIT`]; panics naming `what` when it does not finish in time.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The timeout test clients are configured with (`ipc::Config::timeout`), a client setting
/// rather than a wait: long enough for a loaded machine, and short enough that an `RpcClient`'s
/// pings, every half of it, keep the client inside a broker's default idle limit (6.25 s).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
