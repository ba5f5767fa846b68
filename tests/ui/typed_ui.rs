//! Compile tests of `#[rpc]`, `#[derive(RpcError)]` and `#[derive(RpcEvent)]` (trybuild): `pass/*.rs` must build,
//! every other case here must fail with the reviewed `.stderr` beside it.
//!
//! The `.stderr` files belong to one toolchain (see `tests/ui/README.md`); on another rustc the
//! compile-fail half is skipped unless `ELBUS_UI_TESTS=1` forces it. Regenerate on purpose only:
//! `TRYBUILD=overwrite cargo test -p elbus-ui-tests`, then review every changed `.stderr`.

/// The toolchain the `.stderr` snapshots were produced with.
const PINNED_RUSTC: &str = "rustc 1.95.0";

fn rustc_matches() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).starts_with(PINNED_RUSTC))
        .unwrap_or(false)
}

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    if rustc_matches() || std::env::var_os("ELBUS_UI_TESTS").is_some() {
        t.compile_fail("trait/*.rs");
        t.compile_fail("method/*.rs");
        t.compile_fail("param/*.rs");
        t.compile_fail("error/*.rs");
        t.compile_fail("serve/*.rs");
        t.compile_fail("event/*.rs");
    } else {
        eprintln!("skipping the compile-fail cases: their .stderr files belong to {PINNED_RUSTC}");
    }
}
