//! The FIFO command channel (`elbusd -B fifo:PATH`, `protocol.md` §8.10): each line written to
//! the named pipe is a publish, message, broadcast, RPC notification or RPC call executed as
//! `.broker`.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::broker::Client;
use crate::rpc::kv;
use crate::{AsyncClient, Error, QoS};

/// File mode of the pipe: writable by everyone, readable by the broker's user (as the original).
const FIFO_MODE: u32 = 0o622;
/// Longest line accepted; a longer one is logged and skipped, so a writer cannot make the broker
/// buffer without limit.
const MAX_LINE: usize = 1 << 20;

/// One parsed FIFO line.
#[derive(Debug, Clone, PartialEq)]
pub enum FifoCommand {
    /// `=TOPIC WORD`: publish `WORD` to `TOPIC`.
    Publish {
        /// The topic.
        topic: String,
        /// The payload.
        payload: Vec<u8>,
    },
    /// `TARGET .WORD`: an RPC notification carrying `WORD`.
    Notify {
        /// The target client.
        target: String,
        /// The notification data.
        data: Vec<u8>,
    },
    /// `TARGET :METHOD k=v ...`: an RPC call with id 0 (no reply), params a MessagePack map.
    Call {
        /// The target client.
        target: String,
        /// The method.
        method: String,
        /// MessagePack-encoded params.
        params: Vec<u8>,
    },
    /// `TARGET WORD` with no `*`/`?` in TARGET: a one-to-one message.
    Message {
        /// The target client.
        target: String,
        /// The payload.
        payload: Vec<u8>,
    },
    /// `MASK WORD` where MASK holds `*` or `?`: a broadcast.
    Broadcast {
        /// The client-name mask.
        mask: String,
        /// The payload.
        payload: Vec<u8>,
    },
}

/// Parses one FIFO line. Only the first word after the target or topic is the payload; further
/// words are ignored, as in the original.
pub fn parse_line(line: &str) -> Result<FifoCommand, String> {
    if let Some(rest) = line.trim().strip_prefix('=') {
        let mut words = rest.split(' ');
        let topic = words.next().filter(|t| !t.is_empty()).ok_or("no topic")?;
        let payload = words.next().ok_or("no payload")?;
        return Ok(FifoCommand::Publish {
            topic: topic.to_owned(),
            payload: payload.as_bytes().to_vec(),
        });
    }
    let mut words = line.split(' ');
    let target = words
        .next()
        .filter(|t| !t.is_empty())
        .ok_or("no target")?
        .to_owned();
    let word = words.next().ok_or("no payload")?;
    if let Some(data) = word.strip_prefix('.') {
        return Ok(FifoCommand::Notify {
            target,
            data: data.as_bytes().to_vec(),
        });
    }
    if let Some(method) = word.strip_prefix(':') {
        if method.is_empty() {
            return Err("no method".to_owned());
        }
        return Ok(FifoCommand::Call {
            target,
            method: method.to_owned(),
            params: encode_kv_params(words.filter(|w| !w.is_empty()))?,
        });
    }
    let payload = word.as_bytes().to_vec();
    if target.contains(['*', '?']) {
        Ok(FifoCommand::Broadcast {
            mask: target,
            payload,
        })
    } else {
        Ok(FifoCommand::Message { target, payload })
    }
}

/// Encodes `k=v` pairs as a MessagePack map typed by [`kv::typed_value`]. A pair without `=` is
/// an error.
pub fn encode_kv_params<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<Vec<u8>, String> {
    let mut map = Vec::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("invalid parameter {pair:?}: expected key=value"))?;
        map.push((key, kv::typed_value(value)));
    }
    Ok(kv::encode_map(map))
}

/// Executes one command as the client `broker_client` (`.broker`), with QoS No.
pub async fn execute(broker_client: &Client, command: FifoCommand) -> Result<(), Error> {
    match command {
        FifoCommand::Publish { topic, payload } => {
            broker_client.publish(&topic, &payload, QoS::No).await?;
        }
        FifoCommand::Notify { target, data } => {
            broker_client
                .zc_send(&target, &[0x00], &data, QoS::No)
                .await?;
        }
        FifoCommand::Call {
            target,
            method,
            params,
        } => {
            let mut header = vec![0x01, 0, 0, 0, 0];
            header.extend_from_slice(method.as_bytes());
            header.push(0);
            broker_client
                .zc_send(&target, &header, &params, QoS::No)
                .await?;
        }
        FifoCommand::Message { target, payload } => {
            broker_client.send(&target, &payload, QoS::No).await?;
        }
        FifoCommand::Broadcast { mask, payload } => {
            broker_client
                .send_broadcast(&mask, &payload, QoS::No)
                .await?;
        }
    }
    Ok(())
}

/// Creates the named pipe at `path` (replacing an old pipe there) with mode 0622.
fn create_fifo(path: &Path) -> Result<(), Error> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_fifo() {
            return Err(Error::io(format!(
                "unable to create fifo:{}: the path exists and is not a FIFO",
                path.display()
            )));
        }
        std::fs::remove_file(path)
            .map_err(|err| Error::io(format!("unable to remove old {}: {err}", path.display())))?;
    }
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::io("a FIFO path may not contain NUL"))?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::mkfifo(c_path.as_ptr(), FIFO_MODE as libc::mode_t) } != 0 {
        return Err(Error::io(format!(
            "unable to create fifo:{}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )));
    }
    // mkfifo applies the umask; the mode is part of the contract, so set it explicitly.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FIFO_MODE))
        .map_err(|err| Error::io(format!("unable to chmod {}: {err}", path.display())))
}

/// Creates the FIFO at `path` and spawns the task that executes its lines as `broker_client`.
pub(crate) fn spawn(broker_client: Client, path: &Path) -> Result<JoinHandle<()>, Error> {
    create_fifo(path)?;
    // Opened read-write, so the pipe never reports EOF when a writer closes it.
    let receiver = pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(path)
        .map_err(|err| Error::io(format!("unable to open fifo:{}: {err}", path.display())))?;
    let path = path.to_path_buf();
    Ok(tokio::spawn(read_lines(broker_client, receiver, path)))
}

async fn read_lines(broker_client: Client, mut receiver: pipe::Receiver, path: PathBuf) {
    let mut pending: Vec<u8> = Vec::new();
    let mut skipping_long_line = false;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = match receiver.read(&mut chunk).await {
            Ok(0) => return,
            Ok(read) => read,
            Err(err) => {
                warn!("{}: read failed: {err}", path.display());
                return;
            }
        };
        let mut data = &chunk[..read];
        while let Some(newline) = data.iter().position(|&b| b == b'\n') {
            if skipping_long_line {
                skipping_long_line = false;
            } else {
                pending.extend_from_slice(&data[..newline]);
                run_line(&broker_client, &path, &pending).await;
            }
            pending.clear();
            data = &data[newline + 1..];
        }
        if !skipping_long_line {
            pending.extend_from_slice(data);
            if pending.len() > MAX_LINE {
                warn!(
                    "{}: line longer than {MAX_LINE} bytes skipped",
                    path.display()
                );
                pending.clear();
                skipping_long_line = true;
            }
        }
    }
}

async fn run_line(broker_client: &Client, path: &Path, line: &[u8]) {
    let Ok(line) = std::str::from_utf8(line) else {
        warn!("{}: line is not UTF-8, skipped", path.display());
        return;
    };
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return;
    }
    debug!("{}: {line}", path.display());
    let result = match parse_line(line) {
        Ok(command) => execute(broker_client, command).await,
        Err(err) => Err(Error::data(err)),
    };
    if let Err(err) = result {
        warn!("{}: {err} (line {line:?})", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            parse_line("p4.a hello world").unwrap(),
            FifoCommand::Message {
                target: "p4.a".into(),
                payload: b"hello".to_vec()
            }
        );
        assert_eq!(
            parse_line("  =t/x payload more \n").unwrap(),
            FifoCommand::Publish {
                topic: "t/x".into(),
                payload: b"payload".to_vec()
            }
        );
        assert_eq!(
            parse_line("p4.* hi").unwrap(),
            FifoCommand::Broadcast {
                mask: "p4.*".into(),
                payload: b"hi".to_vec()
            }
        );
        assert_eq!(
            parse_line("x .ping").unwrap(),
            FifoCommand::Notify {
                target: "x".into(),
                data: b"ping".to_vec()
            }
        );
    }

    #[test]
    fn call_params_are_typed() {
        let FifoCommand::Call { method, params, .. } =
            parse_line("p4.a :meth x=1 y=true z=abc f=1.5").unwrap()
        else {
            panic!("not a call");
        };
        assert_eq!(method, "meth");
        let value: rmpv::Value = rmp_serde::from_slice(&params).unwrap();
        assert_eq!(value["x"], rmpv::Value::from(1));
        assert_eq!(value["y"], rmpv::Value::Boolean(true));
        assert_eq!(value["z"], rmpv::Value::from("abc"));
        assert_eq!(value["f"], rmpv::Value::F64(1.5));
    }

    #[test]
    fn malformed_lines_are_errors() {
        for line in ["", "target", "=topic", "x :", "x :m novalue"] {
            assert!(parse_line(line).is_err(), "{line:?}");
        }
    }
}
