//! Fuzz target: the frame decoders of both directions (headers, command bodies, delivered frames).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| elbus_fuzz::targets::frame(data));
