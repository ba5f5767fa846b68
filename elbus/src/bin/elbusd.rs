//! `elbusd`, the elbus broker server. All the logic is in [`elbus::server`]; this file is built
//! by the workspace root package (feature `server`), so integration tests can run the binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    elbus::server::run(elbus::server::ServerArgs::parse())
}
