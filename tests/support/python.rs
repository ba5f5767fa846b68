//! The Python side of the interop tests: locating the venv interpreter that has the published
//! clients (`busrt`, `busrt-async`, `elbus`, `msgpack`) and the metrics parser
//! (`prometheus-client`), and running a scenario script from
//! `tests/interop/` with a time bound and the repository's `python/` package importable,
//! capturing its output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The Python interpreter of the interop venv: `$ELBUS_PYTHON`, else `<repo>/.venv/bin/python`.
///
/// # Panics
///
/// If it does not exist, with a hint to run `.ci/run` (which creates the venv): the interop
/// tests never skip silently.
pub fn interpreter() -> PathBuf {
    let (path, origin) = match std::env::var_os("ELBUS_PYTHON") {
        Some(path) => (PathBuf::from(path), "$ELBUS_PYTHON"),
        None => (
            crate::repo_root().join(".venv/bin/python"),
            "the default venv",
        ),
    };
    assert!(
        path.is_file(),
        "no Python interpreter at {} ({origin}). Run `.ci/run` once to create `.venv` with the \
         published clients (or `python3 -m venv .venv && .venv/bin/pip install busrt busrt-async \
         elbus msgpack prometheus-client`), or point ELBUS_PYTHON at a python that has them",
        path.display()
    );
    path
}

/// The path of the scenario script `tests/interop/<name>`.
///
/// # Panics
///
/// If the script does not exist.
pub fn script(name: &str) -> PathBuf {
    let path = crate::repo_root().join("tests/interop").join(name);
    assert!(path.is_file(), "no interop script {}", path.display());
    path
}

/// The outcome of one script run.
#[derive(Debug)]
pub struct ScriptRun {
    /// The command line, for reports.
    pub command: String,
    /// The exit status, or `None` if the script was killed at the time bound.
    pub status: Option<ExitStatus>,
    /// Everything the script printed on stdout.
    pub stdout: String,
    /// Everything the script printed on stderr.
    pub stderr: String,
}

impl ScriptRun {
    /// True if the script exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }
}

impl fmt::Display for ScriptRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => writeln!(f, "$ {}\n-> {status}", self.command)?,
            None => writeln!(
                f,
                "$ {}\n-> killed: no exit within the time bound",
                self.command
            )?,
        }
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

/// Runs `script` with the venv interpreter and `args`; kills it if it has not exited within
/// `bound` (a failure bound for a hung run, not a timing assertion).
///
/// # Panics
///
/// If the interpreter is missing (see [`interpreter`]) or cannot be started.
pub fn run_script(script: &Path, args: &[&str], bound: Duration) -> ScriptRun {
    let python = interpreter();
    let command = std::iter::once(python.display().to_string())
        .chain(std::iter::once(script.display().to_string()))
        .chain(args.iter().map(|arg| arg.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut child = tokio::process::Command::new(&python)
            .arg("-u")
            .arg(script)
            .args(args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // The repository's own package (`python/elbus_typed`), as in the working tree.
            .env("PYTHONPATH", crate::repo_root().join("python"))
            .current_dir(crate::repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stdout = tokio::spawn(read_all(child.stdout.take().expect("piped stdout")));
        let stderr = tokio::spawn(read_all(child.stderr.take().expect("piped stderr")));
        let status = match tokio::time::timeout(bound, child.wait()).await {
            Ok(status) => Some(status.expect("waiting for the script")),
            Err(_) => {
                let _ = child.kill().await;
                None
            }
        };
        ScriptRun {
            command,
            status,
            stdout: stdout.await.unwrap_or_default(),
            stderr: stderr.await.unwrap_or_default(),
        }
    })
}

/// Reads a stream to its end, lossily decoded.
async fn read_all(mut stream: impl AsyncRead + Unpin) -> String {
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}
