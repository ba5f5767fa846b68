//! `-B` bind addresses: UNIX socket paths, TCP `host:port` and `fifo:PATH` (`protocol.md` §1).

use std::fmt;
use std::path::PathBuf;

use crate::broker::MAX_UNIX_PATH;

/// One place `elbusd` listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindAddress {
    /// A UNIX socket path.
    Unix(PathBuf),
    /// A TCP `host:port`.
    Tcp(String),
    /// A FIFO command channel.
    Fifo(PathBuf),
}

impl BindAddress {
    /// Parses a `-B` value with the path rules of the original: `fifo:` prefix → FIFO; a path
    /// that ends with `.sock`, `.socket` or `.ipc`, or starts with `/` → UNIX socket; anything
    /// else must be `host:port`.
    pub fn parse(value: &str) -> Result<BindAddress, String> {
        if let Some(path) = value.strip_prefix("fifo:") {
            if path.is_empty() {
                return Err("fifo: needs a path, as in fifo:/tmp/elbus.fifo".to_owned());
            }
            return Ok(BindAddress::Fifo(PathBuf::from(path)));
        }
        if is_unix_path(value) {
            if value.len() > MAX_UNIX_PATH {
                return Err(format!(
                    "invalid bind address {value:?}: a UNIX socket path may have at most \
                     {MAX_UNIX_PATH} bytes, this one has {}",
                    value.len()
                ));
            }
            return Ok(BindAddress::Unix(PathBuf::from(value)));
        }
        match value.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(BindAddress::Tcp(value.to_owned()))
            }
            _ => Err(format!(
                "invalid bind address {value:?}: expected a UNIX socket path (/path or *.sock), \
                 HOST:PORT or fifo:PATH"
            )),
        }
    }
}

/// Whether a client or bind path names a UNIX socket rather than TCP (`protocol.md` §1).
pub fn is_unix_path(path: &str) -> bool {
    path.starts_with('/')
        || path.ends_with(".sock")
        || path.ends_with(".socket")
        || path.ends_with(".ipc")
}

impl fmt::Display for BindAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindAddress::Unix(path) => write!(f, "{}", path.display()),
            BindAddress::Tcp(addr) => f.write_str(addr),
            BindAddress::Fifo(path) => write!(f, "fifo:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules() {
        assert_eq!(
            BindAddress::parse("/tmp/x").unwrap(),
            BindAddress::Unix("/tmp/x".into())
        );
        assert_eq!(
            BindAddress::parse("rel.sock").unwrap(),
            BindAddress::Unix("rel.sock".into())
        );
        assert_eq!(
            BindAddress::parse("0.0.0.0:9924").unwrap(),
            BindAddress::Tcp("0.0.0.0:9924".into())
        );
        assert_eq!(
            BindAddress::parse("fifo:/tmp/elbus.fifo").unwrap(),
            BindAddress::Fifo("/tmp/elbus.fifo".into())
        );
        assert!(BindAddress::parse("nonsense").is_err());
        assert!(BindAddress::parse("host:notaport").is_err());
        assert!(BindAddress::parse("fifo:").is_err());
        let longest = format!("/{}", "s".repeat(MAX_UNIX_PATH - 1));
        assert!(BindAddress::parse(&longest).is_ok());
        assert!(BindAddress::parse(&format!("{longest}s")).is_err());
    }
}
