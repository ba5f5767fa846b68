//! Broker processes started for a test: the reference `busrtd` (and, once it exists, our
//! `elbusd`), each on a fresh Unix socket and a free 127.0.0.1 TCP port, ready before use and
//! killed on drop.
//!
//! ```no_run
//! use elbus_suite::broker::{Broker, Transport};
//! let broker = Broker::busrtd();
//! let path = broker.path(Transport::Tcp); // "127.0.0.1:PORT", what clients pass as the path
//! ```

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::tempdir::TempDir;
use crate::wait::WAIT;

/// How many times a start is retried when the broker exits before it is ready (the free TCP
/// port may be taken by someone else between probing it and the broker binding it).
const START_ATTEMPTS: usize = 3;

/// One broker implementation: where its binary is and how it says it is ready.
///
/// Brokers must accept `-B <unix socket path>` and `-B <host:port>` and print `ready_line` on
/// stdout once every listener is bound. Another broker is one more constructor, e.g.
/// `BrokerKind { label: "elbusd", binary: workspace_binary("elbusd").expect("elbusd built"),
/// ready_line: "elbus broker started" }`, listed where the tests enumerate their brokers.
#[derive(Clone, Debug)]
pub struct BrokerKind {
    /// Short label used in test names and reports, e.g. `busrtd`.
    pub label: &'static str,
    /// The broker executable.
    pub binary: PathBuf,
    /// The end of the stdout line that says the broker accepts connections.
    pub ready_line: &'static str,
}

impl BrokerKind {
    /// The reference broker `busrtd` 0.5.6 (crate `busrt`): `$BUSRTD`, else
    /// `~/.cargo/bin/busrtd`, else `busrtd` on `PATH`.
    ///
    /// # Panics
    ///
    /// If none of them exists, with a hint how to install it.
    pub fn busrtd() -> Self {
        Self {
            label: "busrtd",
            binary: find_binary("BUSRTD", "busrtd").unwrap_or_else(|| {
                panic!(
                    "busrtd not found (env BUSRTD, ~/.cargo/bin/busrtd, PATH); install it with \
                     `cargo install busrt --version 0.5.6 --features server,cli` or run `.ci/run`"
                )
            }),
            ready_line: "BUS/RT broker started",
        }
    }

    /// Our broker `elbusd`, at `binary` (integration tests pass
    /// `env!("CARGO_BIN_EXE_elbusd")`).
    pub fn elbusd(binary: impl Into<PathBuf>) -> Self {
        Self {
            label: "elbusd",
            binary: binary.into(),
            ready_line: "elbus broker started",
        }
    }
}

/// Finds an executable: env `var` (must exist if set), else `~/.cargo/bin/name`, else `PATH`.
///
/// # Panics
///
/// If `var` is set to a path that does not exist.
pub fn find_binary(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "${var} = {} does not exist", path.display());
        return Some(path);
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let candidates = cargo_home
        .map(|dir| dir.join("bin"))
        .into_iter()
        .chain(std::env::split_paths(&path_var));
    candidates
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// The two transports every broker is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The Unix stream socket (`/…/broker.sock`).
    Unix,
    /// TCP on `127.0.0.1:<free port>`.
    Tcp,
}

impl Transport {
    /// Both transports.
    pub const ALL: [Transport; 2] = [Transport::Unix, Transport::Tcp];

    /// `unix` or `tcp`.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Unix => "unix",
            Transport::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A running broker process. Killed (SIGKILL) and its socket directory removed on drop.
pub struct Broker {
    kind: BrokerKind,
    child: Child,
    unix_path: PathBuf,
    tcp_addr: String,
    log: Arc<Mutex<String>>,
    /// Notified whenever a line is added to `log`.
    log_grew: Arc<Condvar>,
    readers: Vec<JoinHandle<()>>,
    // Dropped last: the socket lives in it.
    _dir: TempDir,
}

impl Broker {
    /// Starts the reference broker `busrtd`; see [`Broker::start`].
    pub fn busrtd() -> Self {
        Self::start(&BrokerKind::busrtd())
    }

    /// Starts a broker of `kind` bound to a fresh Unix socket and a free 127.0.0.1 TCP port and
    /// returns once it has printed its ready line.
    ///
    /// # Panics
    ///
    /// If the broker cannot be started, exits early (after a few attempts with new ports) or
    /// is not ready within a generous bound; the panic shows its output.
    pub fn start(kind: &BrokerKind) -> Self {
        Self::start_with_args(kind, &[])
    }

    /// Like [`Broker::start`], with extra command-line arguments after the `-B` ones.
    ///
    /// # Panics
    ///
    /// As [`Broker::start`].
    pub fn start_with_args(kind: &BrokerKind, extra: &[&str]) -> Self {
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(kind, extra) {
                Ok(broker) => return broker,
                Err(log) => last_log = log,
            }
        }
        panic!(
            "{} ({}) exited {START_ATTEMPTS} times before printing {:?}; its last output:\n{last_log}",
            kind.label,
            kind.binary.display(),
            kind.ready_line
        );
    }

    /// One start attempt; `Err(output)` if the process exited before it was ready.
    fn try_start(kind: &BrokerKind, extra: &[&str]) -> Result<Self, String> {
        let dir = TempDir::new(kind.label);
        let unix_path = dir.join("broker.sock");
        let tcp_addr = format!("127.0.0.1:{}", free_tcp_port());
        let mut child = Command::new(&kind.binary)
            .arg("-B")
            .arg(&unix_path)
            .arg("-B")
            .arg(&tcp_addr)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", kind.binary.display()));
        let log = Arc::new(Mutex::new(String::new()));
        let log_grew = Arc::new(Condvar::new());
        let (ready_tx, ready_rx) = mpsc::channel();
        let readers = vec![
            collect_lines(
                child.stdout.take().expect("piped stdout"),
                (log.clone(), log_grew.clone()),
                Some((kind.ready_line, ready_tx)),
            ),
            collect_lines(
                child.stderr.take().expect("piped stderr"),
                (log.clone(), log_grew.clone()),
                None,
            ),
        ];
        let broker = Self {
            kind: kind.clone(),
            child,
            unix_path,
            tcp_addr,
            log,
            log_grew,
            readers,
            _dir: dir,
        };
        match ready_rx.recv_timeout(WAIT) {
            Ok(()) => Ok(broker),
            // stdout closed without the ready line: the process is gone.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let log = broker.log();
                drop(broker);
                Err(log)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "{} did not print {:?} within {WAIT:?}; its output:\n{}",
                kind.label,
                kind.ready_line,
                broker.log()
            ),
        }
    }

    /// Which broker this is.
    pub fn kind(&self) -> &BrokerKind {
        &self.kind
    }

    /// The Unix socket the broker listens on.
    pub fn unix_path(&self) -> &Path {
        &self.unix_path
    }

    /// The TCP address the broker listens on, `127.0.0.1:PORT`.
    pub fn tcp_addr(&self) -> &str {
        &self.tcp_addr
    }

    /// The client path for `transport`: the socket path or `host:port`, exactly as bound.
    pub fn path(&self, transport: Transport) -> String {
        match transport {
            Transport::Unix => self.unix_path.to_string_lossy().into_owned(),
            Transport::Tcp => self.tcp_addr.clone(),
        }
    }

    /// Both client paths, UNIX first: what transport-parametrised tests loop over.
    pub fn paths(&self) -> [&str; 2] {
        [
            self.unix_path.to_str().expect("temp dirs are UTF-8"),
            &self.tcp_addr,
        ]
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Freezes the broker (SIGSTOP): it accepts bytes into its sockets but answers nothing, so a
    /// test can hold an ACK pending for as long as it needs.
    ///
    /// Returns once every thread of the broker is stopped: `kill` returns as soon as the signal
    /// is sent, while a thread running on another core may still route a frame or two.
    pub fn pause(&self) {
        let _ = Command::new("kill")
            .args(["-STOP", &self.pid().to_string()])
            .status();
        let deadline = std::time::Instant::now() + WAIT;
        while !all_threads_stopped(self.pid()) {
            assert!(
                std::time::Instant::now() < deadline,
                "the broker did not stop after SIGSTOP"
            );
            std::thread::yield_now();
        }
    }

    /// Sends `signal` (a `kill` name such as `TERM` or `INT`) to the broker.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    /// Waits for the broker to exit on its own (after a signal, say) and returns its status.
    ///
    /// # Panics
    ///
    /// If it is still running after a generous bound; the panic shows its output.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not exit; its output:\n{}",
                self.kind.label,
                self.log()
            );
            // Polling the child is how std lets us wait for it with a bound.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the broker (SIGKILL) and reaps it; its clients see their connections drop.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the broker has printed `count` lines containing `text` in all (the log is
    /// kept from the start), so a test can wait for an event the broker reports, such as a
    /// reload.
    ///
    /// # Panics
    ///
    /// If that does not happen within a generous bound; the panic shows the output.
    pub fn wait_for_log(&self, text: &str, count: usize) {
        let deadline = std::time::Instant::now() + WAIT;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        while log.matches(text).count() < count {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                !left.is_zero(),
                "{} did not print {text:?} {count} times; its output:\n{log}",
                self.kind.label
            );
            log = self
                .log_grew
                .wait_timeout(log, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Everything the broker has printed so far (stdout and stderr, line by line).
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("kind", &self.kind.label)
            .field("pid", &self.child.id())
            .field("unix_path", &self.unix_path)
            .field("tcp_addr", &self.tcp_addr)
            .finish()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("cannot probe a free TCP port on 127.0.0.1")
}

/// Appends every line of `stream` to `log` in a thread; signals `ready` once when a line ends
/// with its text. The thread ends at EOF (the sender is dropped then, which tells a waiting
/// starter that the process is gone).
pub(crate) fn collect_lines(
    stream: impl Read + Send + 'static,
    (log, log_grew): (Arc<Mutex<String>>, Arc<Condvar>),
    ready: Option<(&'static str, mpsc::Sender<()>)>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut ready = ready;
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end();
            {
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(line);
                log.push('\n');
            }
            log_grew.notify_all();
            if let Some((text, tx)) = &ready {
                if line.ends_with(text) {
                    let _ = tx.send(());
                    ready = None;
                }
            }
        }
    })
}

/// A binary built from this workspace (`target/<profile>/<name>`), found next to the running
/// test executable (`target/<profile>/deps/<test>-<hash>`); e.g. for an `elbusd` kind.
/// `None` if it has not been built.
pub fn workspace_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let path = profile_dir.join(name);
    path.is_file().then_some(path)
}

/// Whether every thread of process `pid` is stopped (state `T` in `/proc/PID/task/*/stat`).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            // The state follows the command name, which is in parentheses and may hold spaces.
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('T') || rest.starts_with('t'))
        })
    })
}

/// Sends `signal` (a `kill` name such as `TERM` or `HUP`) to process `pid`.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} failed");
}
