//! Replays the fuzz seed corpus (`fuzz/corpus/<target>/`, plus any findings saved next to it)
//! through the very functions the fuzz targets call, so `cargo test` keeps every input that ever
//! mattered passing without a fuzzer.

use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../../fuzz/src/targets.rs"]
mod targets;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    for path in corpus(target) {
        let data = std::fs::read(&path).unwrap();
        // A panic names the input that caused it.
        eprintln!("{target}: {}", path.display());
        run(&data);
    }
}

#[test]
fn frame_corpus() {
    replay("frame", targets::frame);
}

#[test]
fn handshake_corpus() {
    replay("handshake", targets::handshake);
}

#[test]
fn matchers_corpus() {
    replay("matchers", targets::matchers);
}

#[test]
fn rpc_corpus() {
    replay("rpc", targets::rpc);
}
