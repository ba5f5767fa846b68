//! The calculator service itself, shared by the `calc_server` example and the tests that
//! check its wire contract from Python.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use elbus_rpc::{RpcContext, Stream};
use tokio::sync::broadcast;

use super::{Added, Calc, CalcError, CalcEvent};

/// How many add results the server keeps for `calc.history` (older ones are dropped).
pub const HISTORY: usize = 100;

/// How far a `calc.watch` consumer may fall behind before its stream ends with `Lagged`.
pub const WATCH_BUFFER: usize = 64;

/// The service state: how many calls it answered since the last reset, the last adds, and the
/// feed of `calc.watch`.
pub struct Calculator {
    calls: AtomicU64,
    history: Mutex<VecDeque<Added>>,
    added: broadcast::Sender<Added>,
}

impl Default for Calculator {
    fn default() -> Self {
        Calculator {
            calls: AtomicU64::new(0),
            history: Mutex::default(),
            added: broadcast::channel(WATCH_BUFFER).0,
        }
    }
}

impl Calculator {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn remember(&self, added: Added) {
        if let Ok(mut history) = self.history.lock() {
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(added);
        }
        // No watcher is not an error.
        let _ = self.added.send(added);
    }
}

impl Calc for Calculator {
    async fn add(&self, a: i64, b: i64, ctx: &RpcContext) -> Result<i64, CalcError> {
        self.count();
        let sum = a.checked_add(b).ok_or(CalcError::Overflow)?;
        self.remember(Added { a, b, sum });
        // Published before the reply, so a subscriber has the event once the call returns
        // (a call served without a bus, in process, has nowhere to publish).
        if let Err(e) = ctx.publish(&CalcEvent::Added { a, b, sum }).await {
            eprintln!("calc/added not published: {e}");
        }
        Ok(sum)
    }

    async fn div(&self, a: i64, b: i64) -> Result<i64, CalcError> {
        self.count();
        match b {
            0 => Err(CalcError::DivisionByZero),
            _ => a.checked_div(b).ok_or(CalcError::Overflow),
        }
    }

    async fn sum(&self, xs: Vec<i64>, scale: Option<i64>) -> Result<i64, CalcError> {
        self.count();
        xs.iter()
            .try_fold(0i64, |acc, x| acc.checked_add(*x))
            .and_then(|sum| sum.checked_mul(scale.unwrap_or(1)))
            .ok_or(CalcError::Overflow)
    }

    async fn hello(&self, name: Option<String>, ctx: &RpcContext) -> Result<String, CalcError> {
        self.count();
        let name = name.as_deref().unwrap_or(ctx.primary_sender());
        Ok(format!("hello, {name} (called by {})", ctx.sender()))
    }

    async fn reset(&self, ctx: &RpcContext) {
        let calls = self.calls.swap(0, Ordering::Relaxed);
        println!("reset by {} after {calls} calls", ctx.sender());
    }

    fn history(&self, limit: u32) -> impl Stream<Item = Result<Added, CalcError>> + Send + 'static {
        // A snapshot: the stream outlives this call and must not borrow the service.
        let items: Vec<Added> = match self.history.lock() {
            Ok(history) => {
                let skip = history.len().saturating_sub(limit as usize);
                history.iter().skip(skip).copied().collect()
            }
            Err(_) => Vec::new(),
        };
        futures_util::stream::iter(items.into_iter().map(Ok))
    }

    fn watch(&self) -> impl Stream<Item = Result<Added, CalcError>> + Send + 'static {
        // Subscribed now, so every add after the call that opens the stream is in it.
        let feed = self.added.subscribe();
        futures_util::stream::unfold(Some(feed), |feed| async move {
            let mut feed = feed?;
            match feed.recv().await {
                Ok(added) => Some((Ok(added), Some(feed))),
                Err(broadcast::error::RecvError::Lagged(_)) => Some((Err(CalcError::Lagged), None)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
    }
}
