//! How a [`Broker`] starts serving sockets: binding UNIX and TCP listeners, and adopting
//! listening sockets bound elsewhere (systemd socket activation).

use std::path::PathBuf;

#[cfg(doc)]
use super::BrokerOptions;
use super::{listener, Broker, ListenerHandle, ServerConfig};
use crate::Error;

impl Broker {
    /// Serves clients on a UNIX socket at `path`.
    ///
    /// The broker owns the path through a lock file beside it, `PATH.lock`, held until
    /// [`Broker::stop_listeners`]: a path another broker serves is refused with a clear error
    /// (`Busy` when that broker holds the lock), even when both start at the same instant. A
    /// stale socket file (nobody accepting on it) is replaced. Returns once the socket is
    /// bound. A [`ServerConfig`] or [`BrokerOptions`] outside its documented bounds is refused
    /// with `Data` ([`ServerConfig::validate_with`]).
    pub async fn spawn_unix_server(
        &self,
        path: impl Into<PathBuf>,
        config: ServerConfig,
    ) -> Result<(), Error> {
        self.check_config(&config)?;
        let path = path.into();
        let (task, lock) = listener::spawn_unix(self.inner.clone(), &path, config).await?;
        self.inner.start_busy_poll();
        self.inner.add_listener(ListenerHandle {
            task,
            path_lock: Some(lock),
        });
        Ok(())
    }

    /// Serves clients on TCP at `addr` (`host:port`; port 0 picks a free port). Returns the bound
    /// address. Settings are checked as by [`Broker::spawn_unix_server`].
    pub async fn spawn_tcp_server(
        &self,
        addr: &str,
        config: ServerConfig,
    ) -> Result<std::net::SocketAddr, Error> {
        self.check_config(&config)?;
        let (task, local) = listener::spawn_tcp(self.inner.clone(), addr, config).await?;
        self.inner.start_busy_poll();
        self.inner.add_listener(ListenerHandle {
            task,
            path_lock: None,
        });
        Ok(local)
    }

    /// Serves clients on a UNIX listening socket bound by someone else, such as one passed by
    /// systemd's socket activation. The socket's file, mode and group are left as they are
    /// ([`ServerConfig::unix_mode`] and [`ServerConfig::unix_group`] do not apply) and no path
    /// lock is taken; [`Broker::stop_listeners`] stops accepting but does not remove the file.
    /// Returns the listener's name in the client table (its path). Settings are checked as by
    /// [`Broker::spawn_unix_server`]. Must be called inside a Tokio runtime.
    pub fn serve_unix_listener(
        &self,
        listener: std::os::unix::net::UnixListener,
        config: ServerConfig,
    ) -> Result<String, Error> {
        self.check_config(&config)?;
        let (task, name) = listener::adopt_unix(self.inner.clone(), listener, config)?;
        self.inner.start_busy_poll();
        self.inner.add_listener(ListenerHandle {
            task,
            path_lock: None,
        });
        Ok(name.to_string())
    }

    /// Serves clients on a TCP listening socket bound by someone else (see
    /// [`Broker::serve_unix_listener`]). Returns its local address.
    pub fn serve_tcp_listener(
        &self,
        listener: std::net::TcpListener,
        config: ServerConfig,
    ) -> Result<std::net::SocketAddr, Error> {
        self.check_config(&config)?;
        let (task, local) = listener::adopt_tcp(self.inner.clone(), listener, config)?;
        self.inner.start_busy_poll();
        self.inner.add_listener(ListenerHandle {
            task,
            path_lock: None,
        });
        Ok(local)
    }

    /// Refuses a listener whose settings are outside their bounds or not usable with this
    /// broker's options.
    pub(super) fn check_config(&self, config: &ServerConfig) -> Result<(), Error> {
        self.inner.options.validate()?;
        config.validate_with(&self.inner.options)
    }
}
