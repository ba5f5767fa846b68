//! `elbusd`, the elbus broker server. All the logic is in [`elbus::server`]; this file is built
//! by the workspace root package (feature `server`), so integration tests can run the binary.

fn main() -> std::process::ExitCode {
    elbus::server::main()
}
