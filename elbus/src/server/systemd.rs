//! systemd integration of `elbusd`: readiness notifications (`sd_notify(3)`: `READY=1`,
//! `STOPPING=1`, `STATUS=`) and socket activation (`sd_listen_fds(3)`: `LISTEN_FDS`,
//! `LISTEN_PID`, `LISTEN_FDNAMES`).
//!
//! Both read their environment variables once, in [`SystemdEnv::take`], before the runtime
//! starts any thread, and remove them, so no child process inherits them. Without the
//! variables nothing changes.

use std::ffi::OsString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::warn;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// Most descriptors `LISTEN_FDS` may announce; a larger count is refused as malformed (systemd
/// passes one per `Listen*=` line of the socket unit).
pub const MAX_LISTEN_FDS: usize = 256;

/// What the service manager handed this process, read from (and removed from) the environment.
#[derive(Debug, Default)]
pub struct SystemdEnv {
    /// `NOTIFY_SOCKET`, if set.
    pub notify_socket: Option<OsString>,
    /// `LISTEN_FDS` and `LISTEN_FDNAMES`, if `LISTEN_PID` names this process.
    pub listen: Option<(String, Option<String>)>,
}

impl SystemdEnv {
    /// Reads and removes `NOTIFY_SOCKET`, `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`.
    /// Must run before any other thread exists (`remove_var` is not thread-safe).
    pub fn take() -> SystemdEnv {
        let notify_socket = std::env::var_os("NOTIFY_SOCKET");
        let pid = std::env::var("LISTEN_PID").ok();
        let fds = std::env::var("LISTEN_FDS").ok();
        let names = std::env::var("LISTEN_FDNAMES").ok();
        for var in [
            "NOTIFY_SOCKET",
            "LISTEN_PID",
            "LISTEN_FDS",
            "LISTEN_FDNAMES",
        ] {
            std::env::remove_var(var);
        }
        // sd_listen_fds(3): the descriptors are ours only if LISTEN_PID is our pid.
        let ours = pid.is_some_and(|pid| pid.trim() == std::process::id().to_string());
        SystemdEnv {
            notify_socket,
            listen: fds.filter(|_| ours).map(|fds| (fds, names)),
        }
    }
}

/// Sends state changes to the service manager's notification socket, if there is one.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// A notifier for `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket); `None`
    /// sends nothing. An address that cannot be used is logged once and ignored.
    pub fn new(notify_socket: Option<OsString>) -> Notifier {
        let target = notify_socket.and_then(|socket| match notify_target(&socket) {
            Ok(target) => Some(target),
            Err(err) => {
                warn!("NOTIFY_SOCKET {socket:?} not usable, no notifications: {err}");
                None
            }
        });
        Notifier { target }
    }

    /// Sends `state` (newline-separated `KEY=value` lines, such as `READY=1`). A failure is
    /// logged; the broker goes on either way.
    pub fn notify(&self, state: &str) {
        if let Some((socket, addr)) = &self.target {
            if let Err(err) = socket.send_to_addr(state.as_bytes(), addr) {
                warn!("unable to notify the service manager ({state:?}): {err}");
            }
        }
    }
}

/// The unbound datagram socket and the address of `NOTIFY_SOCKET`.
fn notify_target(socket: &OsString) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = socket.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => abstract_addr(name)?,
        None if bytes.starts_with(b"/") => SocketAddr::from_pathname(socket)?,
        None => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "expected an absolute path or @name",
            ))
        }
    };
    let socket = UnixDatagram::unbound()?;
    // A receiver that does not read must not stall the broker: a full queue is an error.
    socket.set_nonblocking(true)?;
    Ok((socket, addr))
}

#[cfg(target_os = "linux")]
fn abstract_addr(name: &[u8]) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_name: &[u8]) -> std::io::Result<SocketAddr> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract sockets exist on Linux only",
    ))
}

/// A listening socket passed by the service manager.
#[derive(Debug)]
pub enum PassedListener {
    /// A UNIX stream socket, with its `LISTEN_FDNAMES` name.
    Unix(std::os::unix::net::UnixListener, String),
    /// A TCP socket, with its `LISTEN_FDNAMES` name.
    Tcp(std::net::TcpListener, String),
}

/// The `LISTEN_FDNAMES` name of the passed socket that listens at `bind`, if one does.
pub fn already_passed<'a>(
    bind: &super::BindAddress,
    passed: &'a [PassedListener],
) -> Option<&'a str> {
    use super::BindAddress;
    passed.iter().find_map(|listener| {
        let same = match (bind, listener) {
            (BindAddress::Unix(path), PassedListener::Unix(socket, _)) => socket
                .local_addr()
                .ok()
                .and_then(|addr| addr.as_pathname().map(|bound| bound == path))
                .unwrap_or(false),
            (BindAddress::Tcp(addr), PassedListener::Tcp(socket, _)) => {
                let bound = socket.local_addr().ok();
                addr.parse::<std::net::SocketAddr>()
                    .ok()
                    .is_some_and(|addr| Some(addr) == bound)
            }
            _ => false,
        };
        let name = match listener {
            PassedListener::Unix(_, name) | PassedListener::Tcp(_, name) => name.as_str(),
        };
        same.then_some(name)
    })
}

/// The listening sockets of `LISTEN_FDS` (`fds`, `names` from [`SystemdEnv::listen`]), each
/// checked to be a listening UNIX or TCP stream socket and made close-on-exec. A malformed
/// variable or a descriptor of another kind is one line saying which and why.
pub fn passed_listeners(fds: &str, names: Option<&str>) -> Result<Vec<PassedListener>, String> {
    let count: usize = fds
        .trim()
        .parse()
        .ok()
        .filter(|count| *count <= MAX_LISTEN_FDS)
        .ok_or_else(|| {
            format!("LISTEN_FDS={fds:?}: expected a number of descriptors up to {MAX_LISTEN_FDS}")
        })?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let names: Vec<String> = match names {
        Some(names) => names.split(':').map(str::to_owned).collect(),
        None => vec!["unknown".to_owned(); count],
    };
    if names.len() != count {
        return Err(format!(
            "LISTEN_FDNAMES has {} names for LISTEN_FDS={count}",
            names.len()
        ));
    }
    // Every descriptor is checked (and owned) before any is served, so a bad one refuses the
    // start instead of serving half the sockets.
    (LISTEN_FDS_START..)
        .zip(names)
        .map(|(fd, name)| {
            adopt(fd)
                .map_err(|err| format!("passed descriptor {fd} (name {name:?}): {err}"))
                .map(|kind| match kind {
                    Adopted::Unix(fd) => PassedListener::Unix(fd.into(), name),
                    Adopted::Tcp(fd) => PassedListener::Tcp(fd.into(), name),
                })
        })
        .collect()
}

/// A checked descriptor by socket family.
enum Adopted {
    Unix(OwnedFd),
    Tcp(OwnedFd),
}

/// Checks that `fd` is an open, listening stream socket of family UNIX or IP, and takes it.
fn adopt(fd: RawFd) -> Result<Adopted, String> {
    // SAFETY: fcntl on any number is safe; it fails with EBADF for one that is not open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(format!("not open: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is open (checked above) and, per LISTEN_FDS, handed to this process alone.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: as above; setting FD_CLOEXEC keeps the socket out of any child.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(format!(
            "unable to set close-on-exec: {}",
            std::io::Error::last_os_error()
        ));
    }
    let not_listening = "not a listening stream socket (a socket unit needs ListenStream=, \
                         with Accept=no)";
    let socket_type = socket_option(fd, libc::SO_TYPE).map_err(|_| not_listening.to_owned())?;
    if socket_type != libc::SOCK_STREAM || socket_option(fd, libc::SO_ACCEPTCONN) != Ok(1) {
        return Err(not_listening.to_owned());
    }
    // SAFETY: a zeroed sockaddr_storage is valid; getsockname writes at most `len` bytes.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let rc = unsafe { libc::getsockname(fd, std::ptr::addr_of_mut!(addr).cast(), &mut len) };
    if rc < 0 {
        return Err(format!(
            "unable to read its address: {}",
            std::io::Error::last_os_error()
        ));
    }
    match i32::from(addr.ss_family) {
        libc::AF_UNIX => Ok(Adopted::Unix(owned)),
        libc::AF_INET | libc::AF_INET6 => Ok(Adopted::Tcp(owned)),
        family => Err(format!(
            "a stream socket of family {family}, neither UNIX nor TCP"
        )),
    }
}

/// An integer `SOL_SOCKET` option of `fd`.
fn socket_option(fd: RawFd, option: libc::c_int) -> Result<libc::c_int, ()> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for the call and sized for an int option.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            std::ptr::addr_of_mut!(value).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_listen_variables_are_refused() {
        assert!(passed_listeners("x", None)
            .unwrap_err()
            .contains("LISTEN_FDS"));
        assert!(passed_listeners("100000", None).is_err());
        assert!(passed_listeners("2", Some("a"))
            .unwrap_err()
            .contains("LISTEN_FDNAMES"));
        assert!(passed_listeners("0", None).unwrap().is_empty());
    }

    #[test]
    fn notify_addresses() {
        assert!(notify_target(&OsString::from("relative")).is_err());
        assert!(notify_target(&OsString::from("/run/systemd/notify")).is_ok());
        #[cfg(target_os = "linux")]
        assert!(notify_target(&OsString::from("@elbus-notify")).is_ok());
    }
}
