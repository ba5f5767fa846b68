//! The caller's deadline on the wire: the optional reserved key [`TIMEOUT_KEY`] appended to a
//! params map by the client ([`RpcCall::send_deadline`](crate::RpcCall::send_deadline)) and
//! taken out again by the server before the params are decoded.
//!
//! The value is the caller's remaining timeout in milliseconds, so clocks need not agree. The
//! key goes last, so the server can cut it off without re-encoding the params.

use std::borrow::Cow;
use std::time::Duration;

/// The reserved params key that carries the caller's timeout in milliseconds.
pub const TIMEOUT_KEY: &str = "rpc.timeout_ms";

/// The key as MessagePack: a fixstr of 14 bytes.
const KEY: &[u8; 15] = b"\xaerpc.timeout_ms";

/// Appends `TIMEOUT_KEY: timeout` to the params map `params` (empty or nil = an empty map).
/// Params that are not a map (an array from a hand-written caller) are left as they are.
pub(crate) fn append(params: &mut Vec<u8>, timeout: Duration) {
    if params.is_empty() || params == b"\xc0" {
        params.clear();
        params.push(0x80);
    }
    let grown = match params[0] {
        n @ 0x80..=0x8e => {
            params[0] = n + 1;
            true
        }
        0x8f => {
            // 15 entries: a fixmap is full, so switch to a map16 header.
            params.splice(0..1, [0xde, 0x00, 0x10]);
            true
        }
        0xde if params.len() >= 3 => match u16::from_be_bytes([params[1], params[2]]) {
            u16::MAX => {
                params.splice(0..3, [0xdf, 0x00, 0x01, 0x00, 0x00]);
                true
            }
            n => {
                params[1..3].copy_from_slice(&(n + 1).to_be_bytes());
                true
            }
        },
        0xdf if params.len() >= 5 => {
            let n = u32::from_be_bytes([params[1], params[2], params[3], params[4]]);
            match n.checked_add(1) {
                Some(n) => {
                    params[1..5].copy_from_slice(&n.to_be_bytes());
                    true
                }
                None => false,
            }
        }
        _ => false,
    };
    if grown {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        params.extend_from_slice(KEY);
        params.push(0xcf);
        params.extend_from_slice(&millis.to_be_bytes());
    }
}

/// Takes the caller's timeout out of `params`: the timeout, and the params without the key.
///
/// Only a last entry `TIMEOUT_KEY: <unsigned int>` counts (any MessagePack uint encoding, as a
/// Python caller's `msgpack.packb` writes it); anything else is passed on untouched.
pub(crate) fn take(params: &[u8]) -> (Option<Duration>, Cow<'_, [u8]>) {
    let Some((millis, entry_len)) = last_entry(params) else {
        return (None, Cow::Borrowed(params));
    };
    let mut rest = params[..params.len() - entry_len].to_vec();
    match rest[0] {
        n @ 0x81..=0x8f => rest[0] = n - 1,
        0xde => {
            let n = u16::from_be_bytes([rest[1], rest[2]]);
            rest[1..3].copy_from_slice(&(n - 1).to_be_bytes());
        }
        _ => {
            let n = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
            rest[1..5].copy_from_slice(&(n - 1).to_be_bytes());
        }
    }
    // The tail looked like the entry; it is one only if what is left is still one whole map
    // (a bin or str value that merely ends with the same bytes leaves a cut value behind).
    if !is_one_value(&rest) {
        return (None, Cow::Borrowed(params));
    }
    (Some(Duration::from_millis(millis)), Cow::Owned(rest))
}

/// Whether `bytes` hold exactly one MessagePack value, nothing missing and nothing after it.
fn is_one_value(bytes: &[u8]) -> bool {
    use serde::Deserialize;
    let mut reader = bytes;
    let whole = serde::de::IgnoredAny::deserialize(&mut rmp_serde::Deserializer::new(&mut reader));
    whole.is_ok() && reader.is_empty()
}

/// The timeout and the byte length of a trailing `TIMEOUT_KEY` entry of a non-empty map.
fn last_entry(params: &[u8]) -> Option<(u64, usize)> {
    let header = match *params.first()? {
        0x81..=0x8f => 1,
        0xde if params.get(1..3)? != [0, 0] => 3,
        0xdf if params.get(1..5)? != [0, 0, 0, 0] => 5,
        _ => return None,
    };
    // The uint encodings and their lengths: positive fixint, u8, u16, u32, u64.
    for value_len in [1usize, 2, 3, 5, 9] {
        let Some(start) = params.len().checked_sub(KEY.len() + value_len) else {
            continue;
        };
        if start < header || &params[start..start + KEY.len()] != KEY {
            continue;
        }
        let value = &params[start + KEY.len()..];
        let millis = match (value[0], value_len) {
            (0x00..=0x7f, 1) => u64::from(value[0]),
            (0xcc, 2) => u64::from(value[1]),
            (0xcd, 3) => u64::from(u16::from_be_bytes([value[1], value[2]])),
            (0xce, 5) => u64::from(u32::from_be_bytes(value[1..5].try_into().ok()?)),
            (0xcf, 9) => u64::from_be_bytes(value[1..9].try_into().ok()?),
            _ => continue,
        };
        return Some((millis, KEY.len() + value_len));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// `{"x": <bin of bytes>}`.
    fn bin_map(bytes: &[u8]) -> Vec<u8> {
        let mut out = b"\x81\xa1x\xc4".to_vec();
        out.push(u8::try_from(bytes.len()).unwrap());
        out.extend_from_slice(bytes);
        out
    }

    fn map(entries: usize) -> Vec<u8> {
        let m: BTreeMap<String, u32> = (0..entries).map(|i| (format!("k{i:05}"), 7)).collect();
        rmp_serde::to_vec_named(&m).unwrap()
    }

    #[test]
    fn appended_timeouts_come_back_and_leave_the_params_as_they_were() {
        for entries in [0, 1, 14, 15, 16, 65_535, 65_536] {
            let original = map(entries);
            let mut params = original.clone();
            append(&mut params, Duration::from_millis(1500));
            // Every other key is still there for a server that ignores unknown keys.
            let decoded: BTreeMap<String, u64> = rmp_serde::from_slice(&params).unwrap();
            assert_eq!(decoded.len(), entries + 1);
            assert_eq!(decoded[TIMEOUT_KEY], 1500);
            let (timeout, rest) = take(&params);
            assert_eq!(timeout, Some(Duration::from_millis(1500)), "{entries}");
            let rest_map: BTreeMap<String, u32> = rmp_serde::from_slice(&rest).unwrap();
            assert_eq!(rest_map.len(), entries);
        }
        let mut empty = Vec::new();
        append(&mut empty, Duration::from_millis(3));
        assert_eq!(take(&empty).0, Some(Duration::from_millis(3)));
        assert_eq!(&*take(&empty).1, b"\x80");
    }

    #[test]
    fn minimal_uint_encodings_as_python_writes_them_are_read() {
        for millis in [0u64, 5, 200, 5000, 70_000, 5_000_000_000] {
            let mut m = BTreeMap::new();
            m.insert("a", 1u64);
            m.insert(TIMEOUT_KEY, millis);
            let params = rmp_serde::to_vec_named(&m).unwrap();
            assert_eq!(take(&params).0, Some(Duration::from_millis(millis)));
        }
    }

    #[test]
    fn other_params_are_untouched() {
        for params in [
            &b""[..],
            b"\xc0",
            b"\x80",
            b"\x92\x01\x02",
            b"\xc1",
            b"\xde\x00",
        ] {
            assert_eq!(take(params), (None, Cow::Borrowed(params)));
        }
        // The key as a value, not as the last key, is not a deadline.
        let as_value = rmp_serde::to_vec_named(&BTreeMap::from([("x", TIMEOUT_KEY)])).unwrap();
        assert_eq!(take(&as_value).0, None);
        // A value that merely ends with the entry's bytes is not a deadline either.
        let mut tail = KEY.to_vec();
        tail.push(0x05);
        let bin = bin_map(&tail);
        assert_eq!(take(&bin), (None, Cow::Borrowed(&bin[..])));
        let mut array = b"\x92\x01\x02".to_vec();
        append(&mut array, Duration::from_secs(1));
        assert_eq!(array, b"\x92\x01\x02");
    }
}
