//! Fuzz target: the topic and name-mask routing indexes against the reference matchers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| elbus_fuzz::targets::matchers(data));
