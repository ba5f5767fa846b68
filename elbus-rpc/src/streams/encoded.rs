//! From the typed stream a `#[rpc(stream)]` handler returns to the encoded items the cursor
//! table stores: `Ok(item)` as its MessagePack, `Err(e)` as the error reply of its code.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::Serialize;

use crate::codec::encode_value;
use crate::error::{RpcErrorCode, ServerError};

/// A handler's stream with its items encoded: what a cursor pulls from.
pub type ItemStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, ServerError>> + Send>>;

/// Encodes the items of `inner` as they are pulled.
struct Encoded<S, T, E> {
    inner: Pin<Box<S>>,
    _marker: PhantomData<fn() -> (T, E)>,
}

impl<S, T, E> Stream for Encoded<S, T, E>
where
    S: Stream<Item = Result<T, E>>,
    T: Serialize,
    E: RpcErrorCode,
{
    type Item = Result<Vec<u8>, ServerError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx).map(|item| {
            item.map(|item| match item {
                Ok(value) => encode_value(&value).map_err(ServerError::internal),
                Err(e) => Err(ServerError::new(e.code(), e.wire_message())),
            })
        })
    }
}

/// A handler's typed stream as encoded items.
pub fn encode<S, T, E>(stream: S) -> ItemStream
where
    S: Stream<Item = Result<T, E>> + Send + 'static,
    T: Serialize + 'static,
    E: RpcErrorCode + 'static,
{
    Box::pin(Encoded::<S, T, E> {
        inner: Box::pin(stream),
        _marker: PhantomData,
    })
}
