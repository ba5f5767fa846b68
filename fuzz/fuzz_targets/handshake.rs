//! Fuzz target: a whole broker session over an in-memory pipe: handshake, registration, frames.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| elbus_fuzz::targets::handshake(data));
