//! Locks that outlive a panic: the one place where a poisoned lock is recovered.
//!
//! Nothing in elbus panics while holding a lock (the critical sections are map and field
//! updates), so the data behind a poisoned lock is consistent; refusing all service because some
//! other thread panicked would be worse than going on.

use std::sync::{LockResult, PoisonError};

/// The guard of a lock acquisition, poisoned or not: `recover(mutex.lock())`,
/// `recover(rwlock.read())`, `recover(rwlock.write())`.
pub(crate) fn recover<G>(acquired: LockResult<G>) -> G {
    acquired.unwrap_or_else(PoisonError::into_inner)
}
