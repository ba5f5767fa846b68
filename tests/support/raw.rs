//! A hand-driven protocol client for hostile and wire-level tests: it writes whatever bytes a test
//! gives it (valid or not) and reads the broker's answers byte for byte.
//!
//! Every read is bounded by [`WAIT`], so a broker that never answers fails the test instead of
//! hanging it.

use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

pub use crate::wait::WAIT;

/// Flags byte of a one-to-one message with QoS Processed (`0x12 | 1 << 6`).
pub const MESSAGE_ACKED: u8 = 0x52;
/// Flags byte of a publication with QoS Processed.
pub const PUBLISH_ACKED: u8 = 0x41;
/// Flags byte of a subscribe with QoS Processed.
pub const SUBSCRIBE_ACKED: u8 = 0x42;

/// A raw protocol client over any byte stream.
#[derive(Debug)]
pub struct Raw<S> {
    /// The socket; tests may use it directly for partial writes and half-closes.
    pub stream: S,
}

impl Raw<UnixStream> {
    /// Connects to the UNIX socket at `path` (no handshake).
    pub async fn connect(path: &Path) -> Self {
        Raw {
            stream: UnixStream::connect(path)
                .await
                .unwrap_or_else(|err| panic!("connect {}: {err}", path.display())),
        }
    }

    /// Connects and registers `name`, asserting the broker answers `01`.
    pub async fn register(path: &Path, name: &str) -> Self {
        let mut raw = Raw::connect(path).await;
        assert_eq!(raw.handshake(name).await, Some(0x01), "registering {name}");
        raw
    }
}

impl Raw<TcpStream> {
    /// Connects to TCP `addr` (no handshake).
    pub async fn connect_tcp(addr: &str) -> Self {
        Raw {
            stream: TcpStream::connect(addr)
                .await
                .unwrap_or_else(|err| panic!("connect {addr}: {err}")),
        }
    }
}

/// Encodes one client→broker frame: `op_id`, `flags`, the body's length, the body.
pub fn request(op_id: u32, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut frame = op_id.to_le_bytes().to_vec();
    frame.push(flags);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(body);
    frame
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    /// Reads exactly `N` bytes.
    pub async fn read_exact<const N: usize>(&mut self) -> [u8; N] {
        let mut buf = [0u8; N];
        tokio::time::timeout(WAIT, self.stream.read_exact(&mut buf))
            .await
            .expect("timed out reading")
            .expect("read failed");
        buf
    }

    /// Writes all of `bytes`.
    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write failed");
    }

    /// Writes `bytes`, tolerating a broker that already closed the connection (a hostile client
    /// may be cut off in the middle of its garbage).
    pub async fn write_lossy(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Runs the handshake for `name`; returns the registration byte, or `None` on EOF.
    pub async fn handshake(&mut self, name: &str) -> Option<u8> {
        self.handshake_bytes(name.as_bytes()).await
    }

    /// Runs the handshake with a raw name (which need not be UTF-8).
    pub async fn handshake_bytes(&mut self, name: &[u8]) -> Option<u8> {
        assert_eq!(self.read_exact::<3>().await, [0xEB, 0x01, 0x00]);
        self.write(&[0xEB, 0x01, 0x00]).await;
        assert_eq!(self.read_exact::<1>().await, [0x01]);
        let mut hello = (name.len() as u16).to_le_bytes().to_vec();
        hello.extend_from_slice(name);
        self.write_lossy(&hello).await;
        let mut answer = [0u8; 1];
        match tokio::time::timeout(WAIT, self.stream.read(&mut answer))
            .await
            .expect("timed out waiting for the registration answer")
        {
            Ok(1) => Some(answer[0]),
            _ => None,
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, op_id: u32, flags: u8, body: &[u8]) {
        self.write(&request(op_id, flags, body)).await;
    }

    /// Reads one broker→client frame, skipping NOPs: the 6-byte header and the body.
    pub async fn frame(&mut self) -> ([u8; 6], Vec<u8>) {
        loop {
            let header = self.read_exact::<6>().await;
            match header[0] {
                0x00 => continue,
                0xFE => return (header, Vec::new()),
                _ => {
                    let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
                    let mut body = vec![0u8; len as usize];
                    tokio::time::timeout(WAIT, self.stream.read_exact(&mut body))
                        .await
                        .expect("timed out reading a body")
                        .expect("body read failed");
                    return (header, body);
                }
            }
        }
    }

    /// Reads the next ACK (skipping NOPs; any other frame fails the test).
    pub async fn ack(&mut self) -> [u8; 6] {
        let (header, _) = self.frame().await;
        assert_eq!(header[0], 0xFE, "expected an ACK, got {header:02X?}");
        header
    }

    /// Reads and discards whatever the broker still sends until it closes the connection;
    /// returns how many bytes came before EOF.
    pub async fn drain_until_eof(&mut self) -> usize {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            match tokio::time::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("timed out waiting for EOF")
            {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n,
            }
        }
    }

    /// Waits for the broker to close the connection; only keepalive NOPs may come first.
    pub async fn expect_eof(&mut self) {
        let mut buf = [0u8; 64];
        loop {
            match tokio::time::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("timed out waiting for EOF")
            {
                Ok(0) | Err(_) => return,
                Ok(n) => assert!(
                    buf[..n].iter().all(|&b| b == 0),
                    "unexpected data before EOF: {:02X?}",
                    &buf[..n]
                ),
            }
        }
    }
}
