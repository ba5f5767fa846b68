//! Typed RPC over the elbus bus: the runtime behind `#[rpc]` traits.
