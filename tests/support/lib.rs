//! Shared helpers of the elbus integration tests and examples: temporary socket paths, brokers and
//! published peers started for a test.

pub mod busrtd;
