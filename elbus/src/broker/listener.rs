//! Accept loops of the UNIX-socket and TCP listeners.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::task::JoinHandle;
use tracing::{error, warn};

use super::access::PeerCredentials;
use super::path_lock::PathLock;
use super::peer::Peer;
use super::session;
use super::sink::{DirectWrite, SharedSocket, SocketWrite};
use super::{BrokerInner, ServerConfig};
use crate::logging::LogLimiter;
use crate::Error;

/// Pause after a failed accept (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Makes `path` free for a new socket: a stale socket file is removed, a live one (a broker
/// answers on it) or a file that is not a socket is an error.
async fn prepare_unix_path(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(Error::io(format!(
            "unable to bind {}: the path exists and is not a socket",
            path.display()
        )));
    }
    if UnixStream::connect(path).await.is_ok() {
        return Err(Error::io(format!(
            "unable to bind {}: another process is listening on it",
            path.display()
        )));
    }
    std::fs::remove_file(path)
        .map_err(|err| Error::io(format!("unable to remove stale {}: {err}", path.display())))
}

/// Longest UNIX socket path the kernel accepts (`sun_path` holds 108 bytes with the NUL).
pub const MAX_UNIX_PATH: usize = 107;

/// Binds the UNIX socket at `path` with the file mode and group of `config`.
///
/// The socket is bound under a temporary name in the same directory, given its mode and group,
/// then renamed into place: no client can connect while it still has the umask-derived mode.
/// When the temporary name would be too long for a socket path, the socket is bound in place
/// and changed right after.
fn bind_unix(path: &Path, config: &ServerConfig) -> Result<UnixListener, Error> {
    use std::os::unix::fs::PermissionsExt;
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let bind_error =
        |err: std::io::Error| Error::io(format!("unable to bind {}: {err}", path.display()));
    if config.unix_mode.is_none() && config.unix_group.is_none() {
        return UnixListener::bind(path).map_err(bind_error);
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let tmp: PathBuf = dir.join(format!(
        ".elbus-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let staged = tmp.as_os_str().len() <= MAX_UNIX_PATH;
    let bound_at = if staged { tmp.as_path() } else { path };
    let listener = UnixListener::bind(bound_at).map_err(bind_error)?;
    let prepared = (|| {
        if let Some(gid) = config.unix_group {
            std::os::unix::fs::chown(bound_at, None, Some(gid))
                .map_err(|err| format!("unable to set the group {gid}: {err}"))?;
        }
        if let Some(mode) = config.unix_mode {
            std::fs::set_permissions(bound_at, std::fs::Permissions::from_mode(mode))
                .map_err(|err| format!("unable to set the mode {mode:o}: {err}"))?;
        }
        if staged {
            std::fs::rename(bound_at, path).map_err(|err| err.to_string())?;
        }
        Ok::<(), String>(())
    })();
    if let Err(err) = prepared {
        let _ = std::fs::remove_file(bound_at);
        return Err(Error::io(format!(
            "unable to bind {}: {err}",
            path.display()
        )));
    }
    Ok(listener)
}

/// The credentials of a UNIX peer, or `None` (logged) if the kernel would not tell.
fn peer_credentials(stream: &UnixStream, listener_name: &str) -> Option<PeerCredentials> {
    match stream.peer_cred() {
        Ok(cred) => Some(PeerCredentials {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        }),
        Err(err) => {
            warn!("{listener_name}: unable to read the peer credentials: {err}");
            None
        }
    }
}

/// A bound listener that accepts connections as a reader half, a writer half and the [`Peer`]
/// they come from: the one difference between the UNIX and TCP accept loops.
trait Acceptor: Send + Sync + 'static {
    type Reader: AsyncRead + Unpin + Send + 'static;
    type Writer: SocketWrite;

    fn accept_peer(
        &self,
        listener_name: &Arc<str>,
    ) -> impl Future<Output = std::io::Result<(Self::Reader, Self::Writer, Peer)>> + Send;
}

impl Acceptor for UnixListener {
    type Reader = tokio::net::unix::OwnedReadHalf;
    type Writer = tokio::net::unix::OwnedWriteHalf;

    async fn accept_peer(
        &self,
        listener_name: &Arc<str>,
    ) -> std::io::Result<(Self::Reader, Self::Writer, Peer)> {
        let (stream, _) = self.accept().await?;
        let credentials = peer_credentials(&stream, listener_name);
        let (reader, writer) = stream.into_split();
        Ok((
            reader,
            writer,
            Peer::local(listener_name.clone(), credentials),
        ))
    }
}

impl Acceptor for TcpListener {
    type Reader = tokio::net::tcp::OwnedReadHalf;
    type Writer = tokio::net::tcp::OwnedWriteHalf;

    async fn accept_peer(
        &self,
        listener_name: &Arc<str>,
    ) -> std::io::Result<(Self::Reader, Self::Writer, Peer)> {
        let (stream, source) = self.accept().await?;
        if let Err(err) = stream.set_nodelay(true) {
            error!("{listener_name}: unable to set TCP_NODELAY: {err}");
        }
        let (reader, writer) = stream.into_split();
        Ok((reader, writer, Peer::tcp(listener_name.clone(), source)))
    }
}

/// Spawns the loop that accepts connections on `listener` and serves each in its own task.
fn spawn_accept_loop<A: Acceptor>(
    broker: Arc<BrokerInner>,
    listener: A,
    listener_name: Arc<str>,
    config: ServerConfig,
) -> JoinHandle<()> {
    let config = Arc::new(config);
    tokio::spawn(async move {
        // Failures repeat while the cause lasts (out of descriptors while clients flood in).
        let accept_errors = LogLimiter::with_default_rate("accept failures");
        loop {
            match listener.accept_peer(&listener_name).await {
                Ok((reader, writer, peer)) => {
                    let writer = Arc::new(writer);
                    let direct: Arc<dyn DirectWrite> = writer.clone();
                    let session = session::serve(
                        broker.clone(),
                        reader,
                        SharedSocket(writer),
                        Some(direct),
                        config.clone(),
                        peer,
                    );
                    tokio::spawn(session);
                }
                Err(err) => {
                    if accept_errors.allow() {
                        error!("{listener_name}: accept failed: {err}");
                    }
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            }
        }
    })
}

/// Binds a UNIX socket and spawns its accept loop; returns the task and the lock that makes
/// this process the path's owner (released when the listener stops).
pub(crate) async fn spawn_unix(
    broker: Arc<BrokerInner>,
    path: &Path,
    config: ServerConfig,
) -> Result<(JoinHandle<()>, PathLock), Error> {
    let length = path.as_os_str().len();
    if length > MAX_UNIX_PATH {
        return Err(Error::io(format!(
            "unable to bind {}: the path is {length} bytes long, a UNIX socket path may have \
             at most {MAX_UNIX_PATH}",
            path.display()
        )));
    }
    // Everything from the stale-file check to the bind happens under the lock.
    let mut lock = PathLock::acquire(path)?;
    let bound = match prepare_unix_path(path).await {
        Ok(()) => bind_unix(path, &config),
        Err(err) => Err(err),
    };
    let listener = match bound {
        Ok(listener) => listener,
        Err(err) => {
            lock.release();
            return Err(err);
        }
    };
    lock.claim();
    let listener_name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    Ok((
        spawn_accept_loop(broker, listener, listener_name, config),
        lock,
    ))
}

/// Binds a TCP listener and spawns its accept loop; returns the bound address.
pub(crate) async fn spawn_tcp(
    broker: Arc<BrokerInner>,
    addr: &str,
    config: ServerConfig,
) -> Result<(JoinHandle<()>, std::net::SocketAddr), Error> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| Error::io(format!("unable to bind {addr}: {err}")))?;
    let local = listener
        .local_addr()
        .map_err(|err| Error::io(format!("unable to bind {addr}: {err}")))?;
    // `client.list` reports the bind string; with port 0 the real port is more useful.
    let listener_name: Arc<str> = if addr.ends_with(":0") {
        Arc::from(local.to_string())
    } else {
        Arc::from(addr)
    };
    let task = spawn_accept_loop(broker, listener, listener_name, config);
    Ok((task, local))
}

/// Spawns the accept loop of a UNIX listener bound elsewhere (a socket passed by systemd's
/// socket activation, say). No path lock is taken and nothing is removed on stop: the socket
/// file belongs to whoever bound it.
pub(crate) fn adopt_unix(
    broker: Arc<BrokerInner>,
    listener: std::os::unix::net::UnixListener,
    config: ServerConfig,
) -> Result<(JoinHandle<()>, Arc<str>), Error> {
    let adopt_error =
        |err: std::io::Error| Error::io(format!("unable to serve a passed UNIX socket: {err}"));
    listener.set_nonblocking(true).map_err(adopt_error)?;
    let name = listener
        .local_addr()
        .ok()
        .and_then(|addr| {
            addr.as_pathname()
                .map(|path| path.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unnamed UNIX socket".to_owned());
    let listener = UnixListener::from_std(listener).map_err(adopt_error)?;
    let listener_name: Arc<str> = Arc::from(name);
    Ok((
        spawn_accept_loop(broker, listener, listener_name.clone(), config),
        listener_name,
    ))
}

/// Spawns the accept loop of a TCP listener bound elsewhere; see [`adopt_unix`].
pub(crate) fn adopt_tcp(
    broker: Arc<BrokerInner>,
    listener: std::net::TcpListener,
    config: ServerConfig,
) -> Result<(JoinHandle<()>, std::net::SocketAddr), Error> {
    let adopt_error =
        |err: std::io::Error| Error::io(format!("unable to serve a passed TCP socket: {err}"));
    listener.set_nonblocking(true).map_err(adopt_error)?;
    let local = listener.local_addr().map_err(adopt_error)?;
    let listener = TcpListener::from_std(listener).map_err(adopt_error)?;
    let task = spawn_accept_loop(broker, listener, Arc::from(local.to_string()), config);
    Ok((task, local))
}
