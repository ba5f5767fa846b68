//! The `#[rpc]` procedural macro of elbus typed RPC; users depend on `elbus-rpc`, which re-exports it.
