//! Shared helpers of the elbus integration tests and examples, one module per concern:
//!
//! | module | what it is |
//! |---|---|
//! | [`wait`] | the one wait bound [`WAIT`](wait::WAIT) and [`within`](wait::within) |
//! | [`tempdir`] | temporary directories for sockets and files |
//! | [`broker`] | `elbusd` and `busrtd` processes started for a test, over UNIX and TCP |
//! | [`raw`] | a hand-driven protocol client for wire-level and hostile tests |
//! | [`bystander`] | a client that checks the broker keeps serving others during an attack |
//! | [`daemon`] | an `elbusd` started from a test-built command; a fake systemd (notify socket, passed fds) |
//! | [`procstat`] | a process's memory and CPU time from `/proc` |
//! | [`python`] | the Python peers of `tests/interop/`, run with the venv's interpreter |
//! | [`second_uid`] | the system Python as `nobody` through `setpriv`, the ACL peer, ACL files |
//! | [`rpc`] | an embedded broker for RPC scenarios, the transport matrix, a byte RPC test service |
//! | [`typed`] | the typed `#[rpc]` services the typed-RPC tests serve |
//! | [`typed_runtime`] | the slow typed service of the deadline, cancellation and limit tests |
//! | [`metrics`] | the `elbusd --metrics` endpoint: its address, raw HTTP, parsed scrapes |
//! | [`cli`] | running the `elbus` binary and reading its output as it comes |
//! | [`soak`] | the mixed-load soak run |
//! | [`nats`] | a real `nats-server` (one, or a cluster of three) for the federation tests |
//! | `federation` | `elbusd --federation` nodes and their `.broker` federation methods (feature `federation`) |

pub mod broker;
pub mod bystander;
pub mod cli;
pub mod daemon;
#[cfg(feature = "federation")]
pub mod federation;
pub mod metrics;
pub mod nats;
pub mod procstat;
pub mod python;
pub mod raw;
pub mod rpc;
pub mod second_uid;
pub mod soak;
pub mod tempdir;
pub mod typed;
pub mod typed_runtime;
pub mod wait;

use std::path::{Path, PathBuf};

/// The repository root (the workspace root package's manifest directory).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The path of the workspace binary `name` (`elbusd`, `elbus`). Cargo builds the binaries of
/// the package before its integration tests, into the directory above the tests' `deps/`.
///
/// # Panics
/// If the binary is not there (the caller is not an integration test of this package).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/PROFILE/deps");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "no {} (cargo builds it before the integration tests)",
        path.display()
    );
    path
}

/// The path of the example binary `name` (`calc_server`): cargo builds the package's examples
/// before its integration tests, into `target/PROFILE/examples/`.
///
/// # Panics
/// If it is not there.
pub fn example_bin(name: &str) -> PathBuf {
    let bin = workspace_bin("elbusd");
    let path = bin
        .parent()
        .expect("target/PROFILE")
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "no example {}", path.display());
    path
}
