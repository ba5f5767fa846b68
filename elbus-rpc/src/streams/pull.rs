//! [`PullStream`]: the typed client end of a `#[rpc(stream)]` method. It opens the cursor,
//! pulls batches with `NB` while it is polled, and closes the cursor when dropped early.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::caller::{Call, Caller, TransportCaller};
use super::watch::PushStream;
use super::{CURSOR_CLOSE, CURSOR_NEXT_BATCH};
use crate::codec::{decode_value, encode_value};
use crate::error::{CallError, CodecError, RawCallError, RpcErrorCode, TransportError};
use crate::transport::RpcTransport;

/// How many items a [`PullStream`] asks for per `NB` unless told otherwise.
pub const DEFAULT_PULL_BATCH: u32 = 64;

#[derive(Deserialize)]
struct Opened {
    #[serde(with = "serde_bytes")]
    u: Vec<u8>,
}

#[derive(Serialize)]
struct Pull<'a> {
    #[serde(with = "serde_bytes")]
    u: &'a [u8],
    n: u32,
}

enum State {
    /// Not polled yet: the opening call is still to be sent (or to become a push stream).
    Start(&'static str, Vec<u8>),
    /// The opening call is in flight.
    Opening(Call),
    /// A batch is in flight.
    Pulling(Call),
    /// Serving buffered items; pulls again when they run out, unless finished.
    Idle,
    /// Ended (finished, failed or never opened).
    Done,
}

/// The items of a server stream, pulled in batches as this stream is polled: `Ok(item)`, or
/// one `Err` after which the stream ends. Dropping it before the end closes the cursor on the
/// server (`rpc.cursor.close`, sent from a spawned task); one dropped while its opening call
/// is still in flight leaves the cursor to expire (the server's TTL).
///
/// Memory: at most one batch (`.batch(n)`, [`DEFAULT_PULL_BATCH`]) is buffered here.
#[must_use = "a stream does nothing until polled"]
pub struct PullStream<T, E> {
    caller: Arc<dyn Caller>,
    state: State,
    cursor: Option<Vec<u8>>,
    buffer: VecDeque<T>,
    finished: bool,
    batch: u32,
    failed: Option<CallError<E>>,
}

impl<T, E> Unpin for PullStream<T, E> {}

impl<T, E> std::fmt::Debug for PullStream<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullStream")
            .field("open", &self.cursor.is_some())
            .field("buffered", &self.buffer.len())
            .field("finished", &self.finished)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static, E: RpcErrorCode + Send + 'static> PullStream<T, E> {
    /// Calls `method` of `target` with `params`; each call (open and pulls) is bounded by
    /// `timeout`. The generated client's helper.
    #[doc(hidden)]
    pub fn __open<Tr: RpcTransport>(
        transport: Tr,
        target: Arc<str>,
        method: &'static str,
        params: Result<Vec<u8>, CodecError>,
        timeout: Duration,
    ) -> Self {
        let caller: Arc<dyn Caller> = Arc::new(TransportCaller {
            transport,
            target,
            timeout,
        });
        let (state, failed) = match params {
            Ok(params) => (State::Start(method, params), None),
            Err(e) => (State::Done, Some(CallError::Encode(e))),
        };
        PullStream {
            caller,
            state,
            cursor: None,
            buffer: VecDeque::new(),
            finished: false,
            batch: DEFAULT_PULL_BATCH,
            failed,
        }
    }

    /// Asks for `n` items per pull (at least 1; the server caps it, 1000 by default).
    pub fn batch(mut self, n: u32) -> Self {
        self.batch = n.max(1);
        self
    }

    /// Opens the stream as a push stream instead (`rpc.stream.open`): the server sends the
    /// items as notifications, at most `credit` ahead of the consumer
    /// ([`DEFAULT_PUSH_CREDIT`](super::DEFAULT_PUSH_CREDIT) is a fair start). Needs a transport
    /// that receives notifications ([`RpcBus`](crate::RpcBus)); must be called before the
    /// stream is first polled.
    pub fn push(mut self, credit: u32) -> PushStream<T, E> {
        let caller = self.caller.clone();
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start(method, params) => PushStream::open(caller, method, params, credit),
            _ => {
                let e = self.failed.take().unwrap_or_else(|| {
                    CallError::Transport(TransportError::new(
                        "push: the stream was already polled as a pull stream",
                    ))
                });
                PushStream::failed(caller, e)
            }
        }
    }

    fn pull(&mut self) -> Result<Call, CallError<E>> {
        let u = self.cursor.as_deref().unwrap_or_default();
        let params = encode_value(&Pull { u, n: self.batch }).map_err(CallError::Encode)?;
        Ok(self.caller.call(CURSOR_NEXT_BATCH, params))
    }

    fn fail(&mut self, e: CallError<E>) -> Poll<Option<Result<T, CallError<E>>>> {
        self.state = State::Done;
        Poll::Ready(Some(Err(e)))
    }
}

impl<T: DeserializeOwned + Send + 'static, E: RpcErrorCode + Send + 'static> Stream
    for PullStream<T, E>
{
    type Item = Result<T, CallError<E>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match &mut this.state {
                State::Start(method, params) => {
                    let call = this.caller.call(method, std::mem::take(params));
                    this.state = State::Opening(call);
                }
                State::Done => return Poll::Ready(this.failed.take().map(Err)),
                State::Idle if this.finished => {
                    this.state = State::Done;
                    return Poll::Ready(None);
                }
                State::Idle => match this.pull() {
                    Ok(call) => this.state = State::Pulling(call),
                    Err(e) => return this.fail(e),
                },
                State::Opening(call) => {
                    let reply = match call.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(r) => r,
                    };
                    match reply.map_err(RawCallError::into_call_error) {
                        Ok(reply) => match decode_value::<Opened>(&reply) {
                            Ok(opened) => {
                                this.cursor = Some(opened.u);
                                this.state = State::Idle;
                            }
                            Err(e) => return this.fail(CallError::Decode(e)),
                        },
                        Err(e) => return this.fail(e),
                    }
                }
                State::Pulling(call) => {
                    let reply = match call.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(r) => r,
                    };
                    match reply.map_err(RawCallError::into_call_error) {
                        Ok(reply) => match decode_value::<Vec<T>>(&reply) {
                            Ok(items) => {
                                this.finished = items.len() < this.batch as usize;
                                if this.finished {
                                    // The server closed the cursor itself.
                                    this.cursor = None;
                                }
                                this.buffer.extend(items);
                                this.state = State::Idle;
                            }
                            Err(e) => return this.fail(CallError::Decode(e)),
                        },
                        Err(e) => {
                            // A remote error ended the stream on the server; a timeout may not have.
                            if !matches!(e, CallError::Timeout | CallError::Transport(_)) {
                                this.cursor = None;
                            }
                            return this.fail(e);
                        }
                    }
                }
            }
        }
    }
}

impl<T, E> Drop for PullStream<T, E> {
    fn drop(&mut self) {
        if let Some(u) = self.cursor.take() {
            if let Ok(params) = encode_value(&Pull { u: &u, n: 0 }) {
                self.caller.notify(CURSOR_CLOSE, params);
            }
        }
    }
}
