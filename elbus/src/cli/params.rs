//! RPC params from the command line: `key=value` pairs typed as the FIFO channel types them
//! (`protocol.md` §8.10) and encoded as a MessagePack map, or `-` for raw stdin.

use rmpv::Value;

use super::error::CliError;

/// Where a call's params come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// No params: an empty payload.
    Empty,
    /// A single `-`: stdin, sent as is.
    Stdin,
    /// `key=value` pairs, in the order given (a repeated key keeps its first position and its
    /// last value).
    Map(Vec<(String, Value)>),
}

impl Params {
    /// Parses the `PARAMS` arguments of `rpc call` / `rpc call0`.
    pub fn parse(args: &[String]) -> Result<Params, CliError> {
        match args {
            [] => return Ok(Params::Empty),
            [only] if only == "-" => return Ok(Params::Stdin),
            _ => {}
        }
        let mut pairs: Vec<(String, Value)> = Vec::with_capacity(args.len());
        for arg in args {
            if arg == "-" {
                return Err(CliError::usage(
                    "`-` (params from stdin) must be the only param",
                ));
            }
            let Some((key, value)) = arg.split_once('=') else {
                return Err(CliError::usage(format!("param `{arg}` is not key=value")));
            };
            if key.is_empty() {
                return Err(CliError::usage(format!("param `{arg}` has an empty key")));
            }
            let value = typed_value(value);
            match pairs.iter_mut().find(|(k, _)| k == key) {
                Some(pair) => pair.1 = value,
                None => pairs.push((key.to_owned(), value)),
            }
        }
        Ok(Params::Map(pairs))
    }

    /// The payload bytes; `stdin` is called only for [`Params::Stdin`].
    pub fn encode(
        &self,
        stdin: impl FnOnce() -> Result<Vec<u8>, CliError>,
    ) -> Result<Vec<u8>, CliError> {
        match self {
            Params::Empty => Ok(Vec::new()),
            Params::Stdin => stdin(),
            Params::Map(pairs) => Ok(crate::rpc::kv::encode_map(
                pairs.iter().map(|(k, v)| (k.as_str(), v.clone())),
            )),
        }
    }
}

pub use crate::rpc::kv::typed_value;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn no_stdin() -> Result<Vec<u8>, CliError> {
        panic!("stdin must not be read")
    }

    #[test]
    fn values_are_typed_as_the_fifo_does() {
        assert_eq!(typed_value("true"), Value::Boolean(true));
        assert_eq!(typed_value("false"), Value::Boolean(false));
        assert_eq!(typed_value("True"), Value::from("True"));
        assert_eq!(typed_value("1"), Value::from(1i64));
        assert_eq!(typed_value("-42"), Value::from(-42i64));
        assert_eq!(typed_value("9223372036854775807"), Value::from(i64::MAX));
        // Beyond i64 it is a float, as `parse::<f64>` takes it.
        assert_eq!(
            typed_value("9223372036854775808"),
            Value::F64(9_223_372_036_854_775_808.0)
        );
        assert_eq!(typed_value("1.5"), Value::F64(1.5));
        assert_eq!(typed_value("1e3"), Value::F64(1000.0));
        assert_eq!(typed_value("abc"), Value::from("abc"));
        assert_eq!(typed_value(""), Value::from(""));
        assert_eq!(typed_value("1.2.3"), Value::from("1.2.3"));
    }

    #[test]
    fn pairs_encode_to_a_map_in_order() {
        let params = Params::parse(&args(&["x=1", "y=true", "z=abc", "f=1.5"])).unwrap();
        let bytes = params.encode(no_stdin).unwrap();
        // The §8.10 example's map, with the keys in command-line order.
        let mut expected = vec![0x84, 0xA1, b'x', 0x01, 0xA1, b'y', 0xC3, 0xA1, b'z', 0xA3];
        expected.extend_from_slice(b"abc");
        expected.extend_from_slice(&[0xA1, b'f', 0xCB]);
        expected.extend_from_slice(&1.5f64.to_be_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn the_value_may_hold_equals_signs_and_keys_repeat() {
        let params = Params::parse(&args(&["q=a=b", "n=1", "q=c"])).unwrap();
        assert_eq!(
            params,
            Params::Map(vec![
                ("q".into(), Value::from("c")),
                ("n".into(), Value::from(1i64)),
            ])
        );
        let Params::Map(pairs) = Params::parse(&args(&["q=a=b"])).unwrap() else {
            panic!()
        };
        assert_eq!(pairs[0].1, Value::from("a=b"));
    }

    #[test]
    fn empty_stdin_and_errors() {
        assert_eq!(Params::parse(&[]).unwrap(), Params::Empty);
        assert!(Params::Empty.encode(no_stdin).unwrap().is_empty());
        let stdin = Params::parse(&args(&["-"])).unwrap();
        assert_eq!(stdin, Params::Stdin);
        assert_eq!(stdin.encode(|| Ok(b"raw".to_vec())).unwrap(), b"raw");
        for bad in [&["novalue"][..], &["=v"], &["a=1", "-"]] {
            let err = Params::parse(&args(bad)).unwrap_err();
            assert_eq!(
                err.failure(),
                super::super::error::Failure::Usage,
                "{bad:?}"
            );
        }
    }
}
