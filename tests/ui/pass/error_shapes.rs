//! `#[derive(RpcError)]` on every variant shape, each carrying data (so no catch-all arm is
//! reachable), a raw field name, a format spec and escaped braces, without a warning.
#![deny(warnings)]
use elbus_rpc::{RpcError, RpcErrorCode};

#[derive(Debug, PartialEq, RpcError)]
pub enum AllData {
    #[rpc(code = 1, message = "{r#type:?} in {{braces}}")]
    Named { r#type: String },
    #[rpc(code = 2, message = "pair {0}/{1:?}")]
    Tuple(u8, Vec<u16>),
    /// Fields behind the doc comment's message.
    #[rpc(code = 3)]
    Documented(Option<i64>),
}

fn main() {
    let e = AllData::Named { r#type: "x".into() };
    assert_eq!(e.message(), "\"x\" in {braces}");
    assert_eq!(AllData::from_code(1, &e.wire_message()), Some(e));
    let e = AllData::Tuple(1, vec![2, 3]);
    assert_eq!(AllData::from_code(2, &e.wire_message()), Some(e));
    let e = AllData::Documented(None);
    assert_eq!(e.message(), "Fields behind the doc comment's message.");
    assert_eq!(AllData::from_code(3, &e.wire_message()), Some(e));
}
