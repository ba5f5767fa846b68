//! The yardsticks of the same run: a bare UNIX socket pair, no broker, no framing. The one-way
//! rate of payload-size messages (one write each) bounds what any client can send; the round trip
//! bounds an RPC call's latency.
//!
//! Both sides are plain blocking threads, so the numbers are the kernel's and the scheduler's,
//! not a runtime's.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Bytes read per `read` call on the receiving side of the one-way measurement.
const READ_CHUNK: usize = 1 << 20;

/// Sends `n` messages of `payload.len()` bytes (one `write_all` each) through a socket pair to
/// a thread that reads them all; returns the messages per second.
pub fn one_way_rate(payload: &[u8], n: u64) -> std::io::Result<f64> {
    let (mut tx, mut rx) = UnixStream::pair()?;
    let total = (payload.len() as u64).saturating_mul(n);
    let reader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = vec![0u8; READ_CHUNK];
        let mut left = total;
        while left > 0 {
            let read = rx.read(&mut buf)?;
            if read == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            left = left.saturating_sub(read as u64);
        }
        Ok(())
    });
    let start = Instant::now();
    for _ in 0..n {
        tx.write_all(payload)?;
    }
    reader
        .join()
        .map_err(|_| std::io::Error::other("the raw socket reader panicked"))??;
    let secs = start.elapsed().as_secs_f64();
    Ok(if secs > 0.0 { n as f64 / secs } else { 0.0 })
}

/// `n` round trips of `payload` through a socket pair and an echoing thread, one in flight at a
/// time; returns each round trip's duration.
pub fn round_trips(payload: &[u8], n: u64) -> std::io::Result<Vec<Duration>> {
    let (mut near, mut far) = UnixStream::pair()?;
    let len = payload.len().max(1);
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = vec![0u8; len];
        for _ in 0..n {
            far.read_exact(&mut buf)?;
            far.write_all(&buf)?;
        }
        Ok(())
    });
    // An empty payload still needs a byte to travel.
    let message = if payload.is_empty() {
        &[0u8][..]
    } else {
        payload
    };
    let mut back = vec![0u8; len];
    let mut samples = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for _ in 0..n {
        let start = Instant::now();
        near.write_all(message)?;
        near.read_exact(&mut back)?;
        samples.push(start.elapsed());
    }
    echo.join()
        .map_err(|_| std::io::Error::other("the raw socket echo panicked"))??;
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_measurements_move_every_byte() {
        assert!(one_way_rate(&[7u8; 1000], 50).unwrap() > 0.0);
        assert!(one_way_rate(&[], 5).unwrap() >= 0.0);
        assert_eq!(round_trips(&[7u8; 3000], 20).unwrap().len(), 20);
        assert_eq!(round_trips(&[], 3).unwrap().len(), 3);
    }
}
