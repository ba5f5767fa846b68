//! Accept loops of the UNIX-socket and TCP listeners.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::task::JoinHandle;
use tracing::error;

use super::registry::ClientKind;
use super::session::{self, Peer};
use super::{BrokerInner, ServerConfig};
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

/// Binds a UNIX socket and spawns its accept loop.
pub(crate) async fn spawn_unix(
    broker: Arc<BrokerInner>,
    path: &Path,
    config: ServerConfig,
) -> Result<JoinHandle<()>, Error> {
    prepare_unix_path(path).await?;
    let listener = UnixListener::bind(path)
        .map_err(|err| Error::io(format!("unable to bind {}: {err}", path.display())))?;
    let port: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    let config = Arc::new(config);
    Ok(tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let (reader, writer) = stream.into_split();
                    let peer = Peer {
                        kind: ClientKind::LocalIpc,
                        source: None,
                        port: port.clone(),
                    };
                    tokio::spawn(session::serve(
                        broker.clone(),
                        reader,
                        writer,
                        config.clone(),
                        peer,
                    ));
                }
                Err(err) => {
                    error!("{port}: accept failed: {err}");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            }
        }
    }))
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
    let port: Arc<str> = if addr.ends_with(":0") {
        Arc::from(local.to_string())
    } else {
        Arc::from(addr)
    };
    let config = Arc::new(config);
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, source)) => {
                    if let Err(err) = stream.set_nodelay(true) {
                        error!("{port}: unable to set TCP_NODELAY: {err}");
                    }
                    let (reader, writer) = stream.into_split();
                    let peer = Peer {
                        kind: ClientKind::Tcp,
                        source: Some(source.to_string()),
                        port: port.clone(),
                    };
                    tokio::spawn(session::serve(
                        broker.clone(),
                        reader,
                        writer,
                        config.clone(),
                        peer,
                    ));
                }
                Err(err) => {
                    error!("{port}: accept failed: {err}");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            }
        }
    });
    Ok((task, local))
}
