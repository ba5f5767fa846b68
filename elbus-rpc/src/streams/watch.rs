//! [`PushStream`]: the typed client end of a push stream. The client grants credit (initially the
//! window, then what it consumed, once half the window is used), so the server never sends
//! more than the window ahead and the inbox never holds more than the window.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::caller::{Call, Caller};
use super::inboxes::PushInboxes;
use super::push_wire::{Control, Open, Received};
use super::{PUSH_CANCEL, PUSH_CREDIT, PUSH_OPEN};
use crate::codec::{decode_value, encode_value};
use crate::error::{CallError, RawCallError, RpcErrorCode, TransportError};

/// The credit a push stream grants unless told otherwise: how many items the server may send
/// ahead of the consumer.
pub const DEFAULT_PUSH_CREDIT: u32 = 16;

enum State {
    Opening(Call),
    Open,
    Done,
}

/// The items of a server stream pushed as notifications, at most the credit window ahead:
/// `Ok(item)`, or one `Err` after which it ends. Dropping it before the end cancels the
/// stream on the server (`rpc.stream.cancel`, sent from a spawned task).
#[must_use = "a stream does nothing until polled"]
pub struct PushStream<T, E> {
    caller: Arc<dyn Caller>,
    inboxes: Option<Arc<PushInboxes>>,
    s: u64,
    rx: Option<mpsc::Receiver<Vec<u8>>>,
    state: State,
    window: u64,
    consumed: u64,
    next_q: u64,
    failed: Option<CallError<E>>,
    _marker: std::marker::PhantomData<fn() -> T>,
}

impl<T, E> Unpin for PushStream<T, E> {}

impl<T, E> std::fmt::Debug for PushStream<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushStream")
            .field("s", &self.s)
            .field("window", &self.window)
            .field("received", &self.next_q)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static, E: RpcErrorCode + Send + 'static> PushStream<T, E> {
    /// Opens `method` with `params` as a push stream with `credit` (the generated client's
    /// helper, through `PullStream::push`).
    pub(super) fn open(
        caller: Arc<dyn Caller>,
        method: &'static str,
        params: Vec<u8>,
        credit: u32,
    ) -> Self {
        let window = u64::from(credit.max(1));
        let mut stream = PushStream {
            caller: caller.clone(),
            inboxes: caller.push_inboxes(),
            s: 0,
            rx: None,
            state: State::Done,
            window,
            consumed: 0,
            next_q: 0,
            failed: None,
            _marker: std::marker::PhantomData,
        };
        let Some(inboxes) = stream.inboxes.clone() else {
            stream.failed = Some(CallError::Transport(TransportError::new(
                "push streams need a transport that receives notifications: call through an RpcBus",
            )));
            return stream;
        };
        let (s, rx) = inboxes.open(caller.target(), window as usize + 1);
        stream.s = s;
        stream.rx = Some(rx);
        match encode_value(&Open {
            m: method,
            p: &params,
            s,
            c: window,
        }) {
            Ok(open) => stream.state = State::Opening(caller.call(PUSH_OPEN, open)),
            Err(e) => stream.failed = Some(CallError::Encode(e)),
        }
        stream
    }

    /// A stream that fails at once with `error`.
    pub(super) fn failed(caller: Arc<dyn Caller>, error: CallError<E>) -> Self {
        PushStream {
            caller,
            inboxes: None,
            s: 0,
            rx: None,
            state: State::Done,
            window: 0,
            consumed: 0,
            next_q: 0,
            failed: Some(error),
            _marker: std::marker::PhantomData,
        }
    }

    /// Waits until the server has accepted the stream (its items may already be on the way):
    /// after this, everything the stream's source produces reaches the stream. An error here is
    /// the stream's one error; the stream then ends.
    pub async fn ready(&mut self) -> Result<(), CallError<E>> {
        std::future::poll_fn(|cx| {
            if let Some(e) = self.failed.take() {
                let _ = self.finish(None);
                return Poll::Ready(Err(e));
            }
            let State::Opening(call) = &mut self.state else {
                return Poll::Ready(Ok(()));
            };
            match call.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(_)) => {
                    self.state = State::Open;
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => {
                    let _ = self.finish(None);
                    Poll::Ready(Err(e.into_call_error()))
                }
            }
        })
        .await
    }

    fn finish(&mut self, error: Option<CallError<E>>) -> Poll<Option<Result<T, CallError<E>>>> {
        self.state = State::Done;
        self.rx = None;
        if let Some(inboxes) = self.inboxes.take() {
            inboxes.close(self.caller.target(), self.s);
        }
        Poll::Ready(error.map(Err))
    }

    /// Grants the server what was consumed, once half the window is used.
    fn top_up(&mut self) {
        if self.consumed * 2 >= self.window {
            if let Ok(params) = encode_value(&Control {
                s: self.s,
                n: Some(self.consumed),
            }) {
                self.caller.notify(PUSH_CREDIT, params);
            }
            self.consumed = 0;
        }
    }
}

impl<T: DeserializeOwned + Send + 'static, E: RpcErrorCode + Send + 'static> Stream
    for PushStream<T, E>
{
    type Item = Result<T, CallError<E>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(e) = this.failed.take() {
            return this.finish(Some(e));
        }
        if let State::Opening(call) = &mut this.state {
            match call.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(_)) => this.state = State::Open,
                Poll::Ready(Err(e)) => return this.finish(Some(e.into_call_error())),
            }
        }
        if matches!(this.state, State::Done) {
            return Poll::Ready(None);
        }
        let Some(rx) = this.rx.as_mut() else {
            return Poll::Ready(None);
        };
        let payload = match rx.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(p)) => p,
            Poll::Ready(None) => {
                let e =
                    TransportError::new("push stream cut off: the server sent beyond the credit");
                return this.finish(Some(CallError::Transport(e)));
            }
        };
        let msg: Received<T> = match decode_value(&payload) {
            Ok(m) => m,
            Err(e) => return this.finish(Some(CallError::Decode(e))),
        };
        if msg.q != this.next_q {
            let e = TransportError::new(format!(
                "push stream out of order: item {} where {} was due",
                msg.q, this.next_q
            ));
            return this.finish(Some(CallError::Transport(e)));
        }
        this.next_q += 1;
        if let Some(e) = msg.e {
            let raw = RawCallError::from_code(e.code, Some(e.message.into_bytes()));
            return this.finish(Some(raw.into_call_error()));
        }
        if msg.end {
            return this.finish(None);
        }
        // A nil item (`()`, `None`) reads as a missing "d".
        let item = match msg.d {
            Some(item) => item,
            None => match decode_value::<T>(&[]) {
                Ok(item) => item,
                Err(e) => return this.finish(Some(CallError::Decode(e))),
            },
        };
        this.consumed += 1;
        this.top_up();
        Poll::Ready(Some(Ok(item)))
    }
}

impl<T, E> Drop for PushStream<T, E> {
    fn drop(&mut self) {
        if let Some(inboxes) = self.inboxes.take() {
            inboxes.close(self.caller.target(), self.s);
            if let Ok(params) = encode_value(&Control { s: self.s, n: None }) {
                self.caller.notify(PUSH_CANCEL, params);
            }
        }
    }
}
