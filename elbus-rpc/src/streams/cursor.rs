//! The router's answers to the cursor methods `N`, `NB` and `rpc.cursor.close`.

use serde::{Deserialize, Serialize};

use super::push_wire::Control;
use super::table::StreamTable;
use super::{CURSOR_CLOSE, CURSOR_NEXT, CURSOR_NEXT_BATCH, PUSH_CANCEL, PUSH_CREDIT};
use crate::codec::{decode_params, encode_value};
use crate::error::ServerError;

/// The params of the cursor methods.
#[derive(Deserialize)]
struct CursorParams {
    #[serde(with = "serde_bytes")]
    u: Vec<u8>,
    #[serde(default)]
    n: Option<u64>,
}

/// The reply that opens a cursor.
#[derive(Serialize)]
pub(crate) struct Opened<'a> {
    #[serde(with = "serde_bytes")]
    pub u: &'a [u8],
}

/// The reply that opens a push stream.
#[derive(Serialize)]
pub(crate) struct Pushed {
    pub s: u64,
}

/// Whether `method` is one of the cursor methods the router answers itself.
pub(crate) fn is_cursor_method(method: &str) -> bool {
    matches!(
        method,
        CURSOR_NEXT | CURSOR_NEXT_BATCH | CURSOR_CLOSE | PUSH_CREDIT | PUSH_CANCEL
    )
}

/// Answers the cursor method `method` for the client `sender`.
pub(crate) async fn answer(
    table: &StreamTable,
    method: &str,
    sender: &str,
    params: &[u8],
) -> Result<Vec<u8>, ServerError> {
    if method == PUSH_CREDIT || method == PUSH_CANCEL {
        let c: Control = decode_params(method, params)?;
        return match c.n {
            Some(n) if method == PUSH_CREDIT => table.push().grant(sender, c.s, n),
            None if method == PUSH_CREDIT => Err(ServerError::invalid_params(
                "invalid params for rpc.stream.credit: missing n",
            )),
            _ => table.push().cancel(sender, c.s),
        }
        .map(|()| Vec::new());
    }
    let p: CursorParams = decode_params(method, params)?;
    match method {
        CURSOR_NEXT => {
            let pulled = table.pull(sender, &p.u, 1).await?;
            Ok(pulled.items.into_iter().next().unwrap_or_default())
        }
        CURSOR_NEXT_BATCH => {
            let max = table.limits().max_batch;
            let n = match p.n {
                Some(n) if n <= u64::from(max) => n as usize,
                Some(n) => {
                    return Err(ServerError::invalid_params(format_args!(
                        "invalid params for NB: n = {n} is above the limit of {max}"
                    )))
                }
                None => {
                    return Err(ServerError::invalid_params(
                        "invalid params for NB: missing n",
                    ))
                }
            };
            if n == 0 {
                return encode_value::<[u8; 0]>(&[]).map_err(ServerError::internal);
            }
            let pulled = table.pull(sender, &p.u, n).await?;
            Ok(array_of(&pulled.items))
        }
        _ => {
            table.close(sender, &p.u)?;
            Ok(Vec::new())
        }
    }
}

/// A MessagePack array of already encoded items.
fn array_of(items: &[Vec<u8>]) -> Vec<u8> {
    let len = items.len();
    let mut out = Vec::with_capacity(5 + items.iter().map(Vec::len).sum::<usize>());
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xdc);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn arrays_of_encoded_items_decode() {
        for len in [0usize, 3, 15, 16, 300] {
            let items: Vec<Vec<u8>> = (0..len)
                .map(|i| rmp_serde::to_vec(&(i as u32)).unwrap())
                .collect();
            let back: Vec<u32> = rmp_serde::from_slice(&super::array_of(&items)).unwrap();
            assert_eq!(back, (0..len as u32).collect::<Vec<_>>());
        }
    }
}
