//! [`FederationConfig`]: how a broker joins the federation, and the bounds the gateway keeps.

use std::path::PathBuf;
use std::time::Duration;

use super::subject::{topic_to_subject, valid_node_name};
use crate::Error;

/// How a broker joins a federation over NATS ([`Federation::join`](super::Federation::join)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationConfig {
    /// NATS server URLs (`nats://HOST:PORT`, `tls://...`); the client fails over between them.
    pub servers: Vec<String>,
    /// This broker's node name, a NATS token (`[A-Za-z0-9_-]`, 1 to 64 bytes), unique in the
    /// cluster: a second node of the same name is refused at start-up.
    pub node: String,
    /// The cluster's name: every subject starts with `elbus.<cluster>`, so clusters sharing a
    /// NATS server never see each other's traffic. [default: `main`]
    pub cluster: String,
    /// Topic patterns (`+`, `#`) whose local publications are exported; nothing else is.
    /// `.broker/...` never is.
    pub export: Vec<String>,
    /// Topic patterns whose publications from other nodes are imported, each only while a
    /// local client subscribes to a pattern that overlaps it.
    pub import: Vec<String>,
    /// A NATS `.creds` file (user JWT and NKey seed).
    pub creds: Option<PathBuf>,
    /// A PEM file of the CA that signed the NATS servers' certificates; TLS is then required.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for servers that verify clients.
    pub tls_cert: Option<(PathBuf, PathBuf)>,
    /// Most frames waiting in the gateway's outbound queue; past it a remote send gets ACK
    /// `0x77` and an exported publication is dropped (counted).
    /// [default: [`DEFAULT_QUEUE_FRAMES`](Self::DEFAULT_QUEUE_FRAMES)]
    pub queue_frames: usize,
    /// Most payload and header bytes accepted for NATS and not yet written to it (in that
    /// queue or in the NATS client's buffers), with the same effect.
    /// [default: [`DEFAULT_QUEUE_BYTES`](Self::DEFAULT_QUEUE_BYTES)]
    pub queue_bytes: usize,
}

impl FederationConfig {
    /// The default [`queue_frames`](Self::queue_frames): 8192.
    pub const DEFAULT_QUEUE_FRAMES: usize = 8192;
    /// The default [`queue_bytes`](Self::queue_bytes): 16 MiB.
    pub const DEFAULT_QUEUE_BYTES: usize = 16 << 20;
    /// The default [`cluster`](Self::cluster).
    pub const DEFAULT_CLUSTER: &'static str = "main";
    /// How often a node announces itself.
    pub const HEARTBEAT: Duration = Duration::from_secs(1);
    /// A node not heard from for this long (3 heartbeats) is down: sends to it get `0x71`.
    pub const NODE_TIMEOUT: Duration = Duration::from_secs(3);
    /// Most other nodes tracked; heartbeats of more are ignored (a bound on memory against a
    /// hostile NATS user).
    pub const MAX_NODES: usize = 1024;

    /// A configuration with the defaults: no exports, no imports, no credentials.
    pub fn new(servers: Vec<String>, node: impl Into<String>) -> Self {
        FederationConfig {
            servers,
            node: node.into(),
            cluster: Self::DEFAULT_CLUSTER.to_owned(),
            export: Vec::new(),
            import: Vec::new(),
            creds: None,
            tls_ca: None,
            tls_cert: None,
            queue_frames: Self::DEFAULT_QUEUE_FRAMES,
            queue_bytes: Self::DEFAULT_QUEUE_BYTES,
        }
    }

    /// Checks every field; the error says which one is wrong and why.
    pub fn validate(&self) -> Result<(), Error> {
        if self.servers.is_empty() || self.servers.iter().any(|s| s.trim().is_empty()) {
            return Err(Error::data(
                "federation: at least one NATS server URL is needed",
            ));
        }
        if !valid_node_name(&self.node) {
            return Err(Error::data(format!(
                "federation: node name {:?} is not 1 to 64 of A-Z a-z 0-9 _ -",
                self.node
            )));
        }
        if !valid_node_name(&self.cluster) {
            return Err(Error::data(format!(
                "federation: cluster name {:?} is not 1 to 64 of A-Z a-z 0-9 _ -",
                self.cluster
            )));
        }
        for (what, patterns) in [("export", &self.export), ("import", &self.import)] {
            for pattern in patterns {
                check_pattern(pattern).map_err(|why| {
                    Error::data(format!("federation: {what} pattern {pattern:?}: {why}"))
                })?;
            }
        }
        if self.queue_frames == 0 || self.queue_bytes == 0 {
            return Err(Error::data(
                "federation: the queue bounds must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Checks one allow-list pattern: convertible to a NATS subject, and not under `.broker`.
pub(crate) fn check_pattern(pattern: &str) -> Result<String, String> {
    if pattern.starts_with(".broker/") || pattern == ".broker" {
        return Err(".broker topics never cross".to_owned());
    }
    topic_to_subject(pattern, true).map_err(|why| why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = FederationConfig::new(vec!["nats://127.0.0.1:4222".into()], "a");
        assert!(ok.validate().is_ok());
        let mut bad = ok.clone();
        bad.node = "a.b".into();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("node name"));
        let mut bad = ok.clone();
        bad.servers.clear();
        assert!(bad.validate().is_err());
        let mut bad = ok.clone();
        bad.export.push(".broker/info".into());
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("never cross"));
        let mut bad = ok;
        bad.import.push("a b".into());
        assert!(bad.validate().is_err());
    }
}
