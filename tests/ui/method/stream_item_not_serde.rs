use std::convert::Infallible;
use elbus_rpc::{rpc, Stream};

pub struct Entry;

#[rpc]
pub trait Feed {
    #[rpc(stream)]
    fn history(&self) -> impl Stream<Item = Result<Entry, Infallible>> + Send;
}

fn main() {}
