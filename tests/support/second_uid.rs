//! A second identity for the access-control tests: the system Python run as `nobody:nogroup`
//! through `setpriv`, the ACL peer script it runs, and the small files and brokers those tests
//! set up.
//!
//! The tests run as root (CI does), which may switch uid; they fail, never skip, where
//! `setpriv` (util-linux) or `/usr/bin/python3` is missing: `.ci/run` installs both.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::broker::{Broker, BrokerKind};
use crate::tempdir::TempDir;

/// The system interpreter: one `nobody` can run (a pyenv or venv python under `/root` is not).
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// The raw-protocol peer the access-control tests run as either user (`tests/interop/acl_peer.py`):
/// `python3 -c PEER SOCKET NAME STEP...`.
pub const PEER: &str = include_str!("../interop/acl_peer.py");

/// `nobody`'s uid and `nogroup`'s gid on Debian.
pub const NOBODY_UID: u32 = 65534;
/// `nogroup`'s gid on Debian.
pub const NOBODY_GID: u32 = 65534;

/// A command for [`SYSTEM_PYTHON`], run as `nobody:nogroup` through `setpriv` when
/// `as_nobody`, else as this process's user; from `/`, stdin closed, no bytecode written. Add
/// the interpreter's arguments to it.
pub fn python(as_nobody: bool) -> Command {
    assert!(
        Path::new(SYSTEM_PYTHON).is_file(),
        "{SYSTEM_PYTHON} is needed to run a client as nobody: apt-get install python3 (.ci/run does)"
    );
    let mut command = if as_nobody {
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect(
                "setpriv (util-linux) is needed to run a client as nobody: apt-get install util-linux",
            );
        let mut command = Command::new(setpriv);
        command.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            SYSTEM_PYTHON,
        ]);
        command
    } else {
        Command::new(SYSTEM_PYTHON)
    };
    command
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir("/")
        .stdin(Stdio::null());
    command
}

/// This process's uid and gid (the owner of `/proc/self`).
pub fn own_ids() -> (u32, u32) {
    let meta = std::fs::metadata("/proc/self").expect("/proc/self");
    (meta.uid(), meta.gid())
}

/// Writes `text` as an access-control file `acl.toml` into `dir`.
pub fn acl_file(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.join("acl.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `kind` with `args` and lets everyone traverse its socket directory (whatever the
/// umask), so the socket and FIFO files' own modes and groups decide who may use them.
pub fn start_shared(kind: &BrokerKind, args: &[&str]) -> Broker {
    let broker = Broker::start_with_args(kind, args);
    let dir = broker.unix_path().parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    broker
}
