//! Fuzz target: the RPC payload parser (notifications, requests, replies, error replies).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| elbus_fuzz::targets::rpc(data));
