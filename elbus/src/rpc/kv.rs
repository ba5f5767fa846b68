//! `key=value` RPC params typed as the original CLI and FIFO channel type them
//! (`protocol.md` §8.10), shared by `elbusd`'s FIFO and the `elbus` CLI so the same text means
//! the same params in both.

use rmpv::Value;

/// Types one value: `true`/`false` → bool, an i64 → int, an f64 → float, anything else a string.
pub fn typed_value(text: &str) -> Value {
    match text {
        "true" => Value::Boolean(true),
        "false" => Value::Boolean(false),
        _ => {
            if let Ok(int) = text.parse::<i64>() {
                Value::from(int)
            } else if let Ok(float) = text.parse::<f64>() {
                Value::F64(float)
            } else {
                Value::from(text)
            }
        }
    }
}

/// Encodes `(key, value)` pairs as a MessagePack map, in the order given.
pub fn encode_map<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Vec<u8> {
    let map = Value::Map(
        pairs
            .into_iter()
            .map(|(key, value)| (Value::from(key), value))
            .collect(),
    );
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut buf, &map);
    buf
}
