//! An `elbusd` process started from a [`Command`] the test builds itself (a config file, a
//! systemd environment, passed sockets), with its output collected line by line; and the fake
//! service manager's side of systemd: a notification socket and sockets passed at fd 3, 4, ...

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::broker::collect_lines;
use crate::wait::WAIT;

/// A running `elbusd`, killed (SIGKILL) on drop.
pub struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
    log_grew: Arc<Condvar>,
    readers: Vec<JoinHandle<()>>,
}

impl Daemon {
    /// Starts `command` with stdout and stderr collected.
    ///
    /// # Panics
    /// If it cannot be started.
    pub fn spawn(mut command: Command) -> Daemon {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let log_grew = Arc::new(Condvar::new());
        let readers = vec![
            collect_lines(
                child.stdout.take().expect("piped stdout"),
                (log.clone(), log_grew.clone()),
                None,
            ),
            collect_lines(
                child.stderr.take().expect("piped stderr"),
                (log.clone(), log_grew.clone()),
                None,
            ),
        ];
        Daemon {
            child,
            log,
            log_grew,
            readers,
        }
    }

    /// Runs `command` to its exit (within [`WAIT`]): its status and everything it printed.
    pub fn run_to_exit(command: Command) -> (ExitStatus, String) {
        let mut daemon = Daemon::spawn(command);
        let status = daemon.wait_exit();
        for reader in daemon.readers.drain(..) {
            let _ = reader.join();
        }
        (status, daemon.log())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a `kill` name such as `TERM` or `HUP`).
    pub fn signal(&self, signal: &str) {
        crate::broker::send_signal(self.pid(), signal);
    }

    /// Waits until the output holds `count` lines containing `text`.
    ///
    /// # Panics
    /// If that does not happen within [`WAIT`]; the panic shows the output.
    pub fn wait_for_log(&self, text: &str, count: usize) {
        let deadline = Instant::now() + WAIT;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        while log.matches(text).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "elbusd did not print {text:?} {count} times; its output:\n{log}"
            );
            log = self
                .log_grew
                .wait_timeout(log, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits for the process to exit (within [`WAIT`]) and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "elbusd did not exit; its output:\n{}",
                self.log()
            );
            // Polling the child is how std lets us wait for it with a bound.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

/// The service manager's notification socket: a UNIX datagram socket the test binds.
pub struct NotifySocket {
    socket: UnixDatagram,
    /// The `NOTIFY_SOCKET` value (a path, or `@name`).
    pub env_value: String,
}

impl NotifySocket {
    /// Binds a notification socket at `path`.
    pub fn at_path(path: &Path) -> NotifySocket {
        let socket = UnixDatagram::bind(path).expect("bind the notify socket");
        Self::with(socket, path.to_str().expect("UTF-8 temp path").to_owned())
    }

    /// Binds a notification socket in the abstract namespace (`NOTIFY_SOCKET=@name`).
    pub fn abstract_named(name: &str) -> NotifySocket {
        use std::os::linux::net::SocketAddrExt;
        let addr = SocketAddr::from_abstract_name(name).expect("an abstract name");
        let socket = UnixDatagram::bind_addr(&addr).expect("bind the abstract notify socket");
        Self::with(socket, format!("@{name}"))
    }

    fn with(socket: UnixDatagram, env_value: String) -> NotifySocket {
        socket.set_read_timeout(Some(WAIT)).expect("read timeout");
        NotifySocket { socket, env_value }
    }

    /// The next notification (one datagram), within [`WAIT`].
    pub fn next(&self) -> String {
        let mut buf = [0u8; 4096];
        let len = self
            .socket
            .recv(&mut buf)
            .expect("a notification from elbusd within the wait bound");
        String::from_utf8_lossy(&buf[..len]).into_owned()
    }

    /// Reads notifications until one holds the line `line` (such as `READY=1`); returns it.
    pub fn wait_for(&self, line: &str) -> String {
        loop {
            let message = self.next();
            if message.lines().any(|l| l == line) {
                return message;
            }
        }
    }
}

/// Makes `command` receive `fds` as descriptors 3, 4, ... and `LISTEN_FDS`, `LISTEN_FDNAMES`
/// and `LISTEN_PID` (its own pid, as systemd sets it) for them; `program` is run through
/// `sh -c`, which sets `LISTEN_PID=$$` before it execs.
pub fn socket_activated(program: &Path, fds: &[(RawFd, &str)]) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("export LISTEN_PID=$$; exec \"$0\" \"$@\"")
        .arg(program)
        .env("LISTEN_FDS", fds.len().to_string())
        .env(
            "LISTEN_FDNAMES",
            fds.iter()
                .map(|(_, name)| *name)
                .collect::<Vec<_>>()
                .join(":"),
        );
    let sources: Vec<RawFd> = fds.iter().map(|(fd, _)| *fd).collect();
    // Allocated before the fork: the child may not allocate.
    let mut high = vec![-1; sources.len()];
    // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // Move the sources out of the way first, so placing one cannot close another.
            for (fd, copy) in sources.iter().zip(high.iter_mut()) {
                *copy = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 100);
                if *copy < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (target, copy) in (3..).zip(&high) {
                // dup2 leaves the target without FD_CLOEXEC: it survives the exec.
                if libc::dup2(*copy, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command
}

/// The raw descriptor of a socket the test passes, for [`socket_activated`].
pub fn raw(socket: &impl AsRawFd) -> RawFd {
    socket.as_raw_fd()
}
