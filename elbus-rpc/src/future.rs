//! The boxed future type at dispatch's one type-erasure point.

use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future: the one type-erasure point of dispatch.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
