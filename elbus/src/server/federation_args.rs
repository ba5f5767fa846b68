//! `elbusd`'s federation options (feature `federation`): joining other brokers over NATS.

use std::path::PathBuf;

use clap::Args;

use crate::federation::subject::node_name_from;
use crate::federation::FederationConfig;

/// The `--federation*` and `--node` options.
#[derive(Debug, Clone, Default, Args)]
pub struct FederationArgs {
    /// Join other brokers into one bus through these NATS servers (nats://HOST:PORT or
    /// tls://HOST:PORT, comma-separated; the client fails over between them). Clients then
    /// reach NAME on node N as NAME@N, broadcast to MASK@N or MASK@*. [default: off]
    #[arg(long = "federation", value_name = "URL[,URL...]")]
    pub federation: Option<String>,

    /// This broker's node name in the federation (A-Z a-z 0-9 _ -, at most 64 bytes, unique in
    /// the cluster: a second node of the same name is refused at start-up).
    /// [default: the host name]
    #[arg(long = "node", value_name = "NAME")]
    pub node: Option<String>,

    /// The federation's cluster name: subjects start with elbus.CLUSTER, so clusters sharing
    /// NATS servers stay apart.
    #[arg(long = "federation-cluster", value_name = "NAME",
          default_value = FederationConfig::DEFAULT_CLUSTER)]
    pub federation_cluster: String,

    /// Export local publications whose topic matches PATTERN (+ and #) to the other nodes.
    /// Repeatable; nothing is exported unless listed; .broker/... never is.
    #[arg(long = "federation-export", value_name = "PATTERN")]
    pub federation_export: Vec<String>,

    /// Import publications of other nodes matching PATTERN, while a local client subscribes to
    /// an overlapping pattern. Repeatable; nothing is imported unless listed.
    #[arg(long = "federation-import", value_name = "PATTERN")]
    pub federation_import: Vec<String>,

    /// NATS credentials file (.creds: user JWT and NKey seed).
    #[arg(long = "federation-creds", value_name = "FILE")]
    pub federation_creds: Option<PathBuf>,

    /// CA certificate (PEM) of the NATS servers; TLS is then required.
    #[arg(long = "federation-tls-ca", value_name = "FILE")]
    pub federation_tls_ca: Option<PathBuf>,

    /// Client certificate (PEM) for NATS servers that verify clients; needs
    /// --federation-tls-key.
    #[arg(long = "federation-tls-cert", value_name = "FILE")]
    pub federation_tls_cert: Option<PathBuf>,

    /// The key (PEM) of --federation-tls-cert.
    #[arg(long = "federation-tls-key", value_name = "FILE")]
    pub federation_tls_key: Option<PathBuf>,

    /// Most frames waiting for NATS; past it a remote send gets ACK 0x77 and an exported
    /// publication is dropped (counted in federation.status).
    #[arg(long = "federation-queue-frames", value_name = "FRAMES",
          default_value_t = FederationConfig::DEFAULT_QUEUE_FRAMES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub federation_queue_frames: usize,

    /// Most bytes (payloads and headers) waiting for NATS, with the same effect.
    #[arg(long = "federation-queue-bytes", value_name = "BYTES",
          default_value_t = FederationConfig::DEFAULT_QUEUE_BYTES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub federation_queue_bytes: usize,
}

impl FederationArgs {
    /// The federation these options ask for (`None`: off), checked; or one line saying what
    /// is wrong.
    pub fn config(&self) -> Result<Option<FederationConfig>, String> {
        let Some(urls) = &self.federation else {
            let needs = [
                (self.node.is_some(), "--node"),
                (!self.federation_export.is_empty(), "--federation-export"),
                (!self.federation_import.is_empty(), "--federation-import"),
                (self.federation_creds.is_some(), "--federation-creds"),
                (self.federation_tls_ca.is_some(), "--federation-tls-ca"),
            ];
            if let Some((_, option)) = needs.iter().find(|(given, _)| *given) {
                return Err(format!("{option} needs --federation URL"));
            }
            return Ok(None);
        };
        let servers = urls.split(',').map(|url| url.trim().to_owned()).collect();
        let node = match &self.node {
            Some(node) => node.clone(),
            None => node_name_from(&host_name()),
        };
        let mut config = FederationConfig::new(servers, node);
        config.cluster = self.federation_cluster.clone();
        config.export = self.federation_export.clone();
        config.import = self.federation_import.clone();
        config.creds = self.federation_creds.clone();
        config.tls_ca = self.federation_tls_ca.clone();
        config.tls_cert = match (&self.federation_tls_cert, &self.federation_tls_key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            (None, None) => None,
            _ => return Err("--federation-tls-cert and --federation-tls-key go together".into()),
        };
        config.queue_frames = self.federation_queue_frames;
        config.queue_bytes = self.federation_queue_bytes;
        config.validate().map_err(|err| err.to_string())?;
        Ok(Some(config))
    }
}

/// This machine's host name (`/proc/sys/kernel/hostname`), or empty.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::server::ServerArgs;

    fn config(args: &[&str]) -> Result<Option<crate::federation::FederationConfig>, String> {
        let argv = std::iter::once("elbusd").chain(args.iter().copied());
        ServerArgs::parse_from(argv).federation.config()
    }

    #[test]
    fn federation_options() {
        assert_eq!(config(&[]), Ok(None));
        assert!(config(&["--node", "a"])
            .unwrap_err()
            .contains("--federation URL"));
        let on = config(&[
            "--federation",
            "nats://127.0.0.1:1, nats://127.0.0.1:2",
            "--node",
            "a",
            "--federation-export",
            "x/#",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(on.servers.len(), 2);
        assert_eq!(on.node, "a");
        assert_eq!(on.export, ["x/#"]);
        let bad = config(&["--federation", "nats://x:1", "--node", "a.b"]);
        assert!(bad.unwrap_err().contains("node name"));
        let default_node = config(&["--federation", "nats://x:1"]).unwrap().unwrap();
        assert!(crate::federation::subject::valid_node_name(
            &default_node.node
        ));
    }
}
