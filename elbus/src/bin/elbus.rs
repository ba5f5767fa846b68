//! `elbus`, the elbus command-line client. All the logic is in [`elbus::cli`]; this file is
//! built by the workspace root package (feature `cli`), so integration tests can run the binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    elbus::allocator::keep_freed_memory();
    elbus::cli::run(elbus::cli::Args::parse())
}
