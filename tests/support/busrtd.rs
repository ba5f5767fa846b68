//! The reference broker `busrtd` 0.5.6, started for one test on a fresh UNIX socket and a free
//! loopback TCP port, and killed when the handle drops.
//!
//! Interop tests never skip: if busrtd is missing, [`Busrtd::start`] panics with how to install
//! it. `BUSRTD=/path/to/busrtd` picks a binary other than the one on `PATH` or in `~/.cargo/bin`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// busrtd's stdout lines, collected by the thread that drains the pipe.
type Log = Arc<Mutex<Vec<String>>>;

const INSTALL_HINT: &str =
    "install it with `cargo install busrt --version 0.5.6 --features server,cli`, \
     or point BUSRTD at the binary";

/// How long busrtd may take to print `broker started` (a guard against hanging, not a wait).
const START_LIMIT: Duration = Duration::from_secs(30);

/// A running busrtd, listening on a UNIX socket and a TCP port.
pub struct Busrtd {
    child: Child,
    dir: PathBuf,
    unix: String,
    tcp: String,
    log: Log,
}

impl Busrtd {
    /// Starts busrtd with the default timeout (5 s) and returns once it logged `broker started`.
    pub fn start() -> Busrtd {
        Busrtd::start_with(&[])
    }

    /// Starts busrtd with extra command-line arguments (for example `["-t", "2"]`).
    pub fn start_with(args: &[&str]) -> Busrtd {
        let binary = find_busrtd();
        let dir = unique_dir();
        let unix = dir
            .join("b.sock")
            .to_str()
            .expect("UTF-8 temp dir")
            .to_owned();
        // The free port is found by binding port 0 and releasing it; something else may take it
        // before busrtd binds, so a failed start is retried on a new port.
        let mut failures = Vec::new();
        for _ in 0..3 {
            let tcp = free_tcp_addr();
            match spawn(&binary, &unix, &tcp, args) {
                Ok((child, log)) => {
                    return Busrtd {
                        child,
                        dir,
                        unix,
                        tcp,
                        log,
                    }
                }
                Err(output) => failures.push(output),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!(
            "busrtd ({}) did not start:\n{}",
            binary.display(),
            failures.join("\n---\n")
        );
    }

    /// The UNIX socket path (`<temp dir>/b.sock`).
    pub fn unix_path(&self) -> &str {
        &self.unix
    }

    /// The TCP address (`127.0.0.1:<port>`).
    pub fn tcp_addr(&self) -> &str {
        &self.tcp
    }

    /// Both paths, UNIX first: what transport-parametrised tests loop over.
    pub fn paths(&self) -> [&str; 2] {
        [&self.unix, &self.tcp]
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Freezes the broker (SIGSTOP): it accepts bytes into its sockets but answers nothing, so a
    /// test can hold an ACK pending for as long as it needs.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    /// Kills the broker (SIGKILL) and reaps it; its clients see their connections drop.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What busrtd printed on stdout so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Busrtd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `$BUSRTD`, else `busrtd` on `PATH`, else `~/.cargo/bin/busrtd`; panics with an install hint.
fn find_busrtd() -> PathBuf {
    if let Some(path) = std::env::var_os("BUSRTD") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "BUSRTD={} is not a file; {INSTALL_HINT}",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("busrtd"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .map(|home| home.join("bin").join("busrtd"));
    on_path
        .into_iter()
        .chain(in_cargo_home)
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("busrtd 0.5.6 not found (PATH, ~/.cargo/bin); {INSTALL_HINT}"))
}

/// A new empty directory under the system temp dir, unique per process and call.
fn unique_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("elbus-busrtd-{}-{n}", std::process::id()));
    // A leftover from an earlier run whose pid was the same.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir for busrtd");
    dir
}

fn free_tcp_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").to_string()
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} {pid} failed");
}

/// Starts busrtd and waits for its `broker started` line. On failure returns what it printed.
fn spawn(binary: &Path, unix: &str, tcp: &str, args: &[&str]) -> Result<(Child, Log), String> {
    let mut child = Command::new(binary)
        .args(["-B", unix, "-B", tcp, "-w", "2"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}; {INSTALL_HINT}", binary.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let log = Log::default();
    let (started_tx, started_rx) = mpsc::channel();
    let thread_log = log.clone();
    // The thread keeps draining stdout for busrtd's whole life, so the pipe never fills and
    // blocks the broker's logging.
    std::thread::spawn(move || {
        let mut started = Some(started_tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let is_start = line.contains("broker started");
            thread_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
            if is_start {
                if let Some(tx) = started.take() {
                    let _ = tx.send(());
                }
            }
        }
        // stdout closed: `started` drops, and a waiter still waiting learns busrtd ended.
    });
    match started_rx.recv_timeout(START_LIMIT) {
        Ok(()) => Ok((child, log)),
        Err(why) => {
            let _ = child.kill();
            let status = child.wait();
            let printed = log.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
            Err(format!("{why:?}, exit {status:?}, stdout:\n{printed}"))
        }
    }
}
