//! The FIFO command channel (`elbusd -B fifo:PATH`, `protocol.md` §8.10): each line written to
//! the named pipe is a publish, message, broadcast, RPC notification or RPC call executed as
//! `.broker`.
//!
//! It is a **privileged** channel: its lines are not held to any access-control rule, and
//! `.broker` may message, publish to and call anyone. So who may write the pipe is decided by its
//! file mode and group ([`FifoPermissions`], the UNIX sockets' `--socket-mode` and
//! `--socket-group`, 0660 by default), not 0622 (writable by every local user) as the original
//! creates it. The pipe is made under a temporary name with owner-only permissions, given its
//! group and mode through its open descriptor, then renamed into place, so it never exists at
//! its path with a wider mode or another group.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::broker::{Client, ServerConfig};
use crate::logging::{Escaped, LogLimiter};
use crate::rpc::kv;
use crate::{AsyncClient, Error, QoS};

/// Who may write a FIFO command channel: the pipe's permission bits and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FifoPermissions {
    /// Permission bits of the pipe (a writer needs write permission). `None` leaves what the
    /// process umask gives to 0666. Default: [`ServerConfig::DEFAULT_UNIX_MODE`] (0660).
    pub mode: Option<u32>,
    /// Group (gid) of the pipe; `None`: the broker process's group.
    pub group: Option<u32>,
}

impl Default for FifoPermissions {
    fn default() -> Self {
        FifoPermissions {
            mode: Some(ServerConfig::DEFAULT_UNIX_MODE),
            group: None,
        }
    }
}

impl FifoPermissions {
    /// The mode and group a listener gives its UNIX socket (`unix_mode`, `unix_group`), so
    /// the FIFO is no easier to write than the socket is to open.
    pub fn of(config: &ServerConfig) -> Self {
        FifoPermissions {
            mode: config.unix_mode,
            group: config.unix_group,
        }
    }
}
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

/// Creates the named pipe at `path` with `permissions` (replacing an old pipe there) and opens
/// it for reading and writing (so it never reports EOF when a writer closes it).
///
/// The pipe is made under a temporary name in the same directory with mode 0600 (the umask
/// can only narrow it), given its group and mode through the open descriptor, then renamed
/// over `path`: it never has a wider mode or another group at `path`, and an old pipe is
/// replaced in one step.
fn create_fifo(path: &Path, permissions: FifoPermissions) -> Result<std::fs::File, Error> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let fail = |what: &str, err: &dyn std::fmt::Display| {
        Error::io(format!(
            "unable to create fifo:{}: {what}{err}",
            path.display()
        ))
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_fifo() {
            return Err(fail("the path exists and is not a FIFO", &""));
        }
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let staged = dir.join(format!(
        ".elbus-fifo-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let c_path = std::ffi::CString::new(staged.as_os_str().as_bytes())
        .map_err(|_| Error::io("a FIFO path may not contain NUL"))?;
    // Owner-only until the group and mode are set; with `mode: None` the umask decides, as
    // for a socket.
    let initial: libc::mode_t = if permissions.mode.is_some() {
        0o600
    } else {
        0o666
    };
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::mkfifo(c_path.as_ptr(), initial) } != 0 {
        return Err(fail("", &std::io::Error::last_os_error()));
    }
    let prepared = (|| {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&staged)
            .map_err(|err| fail("", &err))?;
        if let Some(gid) = permissions.group {
            std::os::unix::fs::fchown(&file, None, Some(gid))
                .map_err(|err| fail(&format!("unable to set the group {gid}: "), &err))?;
        }
        if let Some(mode) = permissions.mode {
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|err| fail(&format!("unable to set the mode {mode:o}: "), &err))?;
        }
        std::fs::rename(&staged, path).map_err(|err| fail("", &err))?;
        Ok(file)
    })();
    if prepared.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    prepared
}

/// Creates the FIFO at `path` with `permissions` and spawns the task that executes its lines
/// as `broker_client`.
pub(crate) fn spawn(
    broker_client: Client,
    path: &Path,
    permissions: FifoPermissions,
) -> Result<JoinHandle<()>, Error> {
    let file = create_fifo(path, permissions)?;
    let receiver = pipe::Receiver::from_file(file)
        .map_err(|err| Error::io(format!("unable to open fifo:{}: {err}", path.display())))?;
    let path = path.to_path_buf();
    Ok(tokio::spawn(read_lines(broker_client, receiver, path)))
}

async fn read_lines(broker_client: Client, mut receiver: pipe::Receiver, path: PathBuf) {
    // Every warning about a line is limited: whoever may write the pipe must not flood the log.
    let log = LogLimiter::with_default_rate("FIFO lines");
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
                run_line(&broker_client, &path, &pending, &log).await;
            }
            pending.clear();
            data = &data[newline + 1..];
        }
        if !skipping_long_line {
            pending.extend_from_slice(data);
            if pending.len() > MAX_LINE {
                if log.allow() {
                    warn!(
                        "{}: line longer than {MAX_LINE} bytes skipped",
                        path.display()
                    );
                }
                pending.clear();
                skipping_long_line = true;
            }
        }
    }
}

async fn run_line(broker_client: &Client, path: &Path, line: &[u8], log: &LogLimiter) {
    let Ok(line) = std::str::from_utf8(line) else {
        if log.allow() {
            warn!("{}: line is not UTF-8, skipped", path.display());
        }
        return;
    };
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return;
    }
    debug!("{}: {}", path.display(), Escaped(line));
    let result = match parse_line(line) {
        Ok(command) => execute(broker_client, command).await,
        Err(err) => Err(Error::data(err)),
    };
    if let Err(err) = result {
        if log.allow() {
            warn!("{}: {} (line {line:?})", path.display(), Escaped(&err));
        }
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
