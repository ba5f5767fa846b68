//! Shared helpers of the elbus integration tests and examples: temporary socket paths, brokers and
//! published peers started for a test.

pub mod broker;
pub mod bystander;
pub mod procstat;
pub mod python;
pub mod raw;
pub mod soak;
pub mod tempdir;

/// The repository root (the workspace root package's manifest directory).
pub fn repo_root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}
