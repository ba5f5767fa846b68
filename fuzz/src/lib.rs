//! Fuzz target bodies of elbus; the binaries in `fuzz_targets/` call them, and so does the corpus
//! replay test of the `elbus` crate.

pub mod targets;
