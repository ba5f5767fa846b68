//! Tests of the broker over real sockets: a name held by a hung-up connection, busy-polling.

use super::*;
use crate::ipc::{Client as IpcClient, Config};
use crate::{AsyncClient, QoS};
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

fn socket_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("elbus-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Connects to `path` and goes through the handshake up to sending `name`; the
/// registration answer is left unread.
async fn send_registration(path: &std::path::Path, name: &str) -> UnixStream {
    let mut stream = UnixStream::connect(path).await.unwrap();
    let mut greeting = [0u8; 3];
    stream.read_exact(&mut greeting).await.unwrap();
    stream.write_all(&greeting).await.unwrap();
    let mut ok = [0u8; 1];
    stream.read_exact(&mut ok).await.unwrap();
    assert_eq!(ok, [protocol::RESPONSE_OK]);
    let len = u16::try_from(name.len()).unwrap().to_le_bytes();
    stream.write_all(&len).await.unwrap();
    stream.write_all(name.as_bytes()).await.unwrap();
    stream
}

async fn registration_answer(stream: &mut UnixStream) -> u8 {
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).await.unwrap();
    answer[0]
}

/// A client that reconnects right after closing, before the broker's session of its old
/// connection has read the end of the stream, gets its name (not Busy, 0x76) once that
/// session lets it go. The old connection is served by a runtime the test holds blocked,
/// so the order is forced, not hoped for.
#[test]
fn a_name_held_by_a_hung_up_connection_goes_to_the_next_registration() {
    let dir = socket_dir("released");
    let (held_path, main_path) = (dir.join("held.sock"), dir.join("main.sock"));
    let broker = Broker::new();
    let held_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let held_handle = held_runtime.handle().clone();
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (held_broker, path) = (broker.clone(), held_path.clone());
    let held_thread = std::thread::spawn(move || {
        held_runtime.block_on(async move {
            held_broker
                .spawn_unix_server(&path, ServerConfig::new())
                .await
                .unwrap();
            bound_tx.send(()).unwrap();
            let _ = stop_rx.await;
        });
    });
    bound_rx.recv().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        broker
            .spawn_unix_server(&main_path, ServerConfig::new())
            .await
            .unwrap();
        let mut holder = send_registration(&held_path, "grp.x").await;
        assert_eq!(
            registration_answer(&mut holder).await,
            protocol::RESPONSE_OK
        );
        // Block the runtime that serves `holder`, then hang up.
        let (blocked_tx, blocked) = tokio::sync::oneshot::channel();
        let (gate, gate_rx) = std::sync::mpsc::channel::<()>();
        held_handle.spawn(async move {
            blocked_tx.send(()).unwrap();
            gate_rx.recv().unwrap();
        });
        blocked.await.unwrap();
        drop(holder);
        let mut next = send_registration(&main_path, "grp.x").await;
        // A round trip of another client of this runtime, started after the name was
        // sent: when its ACK is back, the name has been processed.
        let probe = IpcClient::connect(&Config::new(main_path.to_str().unwrap(), "grp.probe"))
            .await
            .unwrap();
        let ack = probe
            .send("grp.nobody", b"?".as_slice(), QoS::Processed)
            .await
            .unwrap();
        assert!(ack.await.is_err(), "nobody is registered as grp.nobody");
        let mut early = [0u8; 1];
        let answered = next.try_read(&mut early);
        assert!(
            matches!(&answered, Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
            "answered {early:02X?} ({answered:?}) while the old connection held the name"
        );
        // Let the old session read the end of its stream and release the name.
        gate.send(()).unwrap();
        assert_eq!(registration_answer(&mut next).await, protocol::RESPONSE_OK);
        assert!(broker.client_info("grp.x").is_some());
    });
    stop_tx.send(()).unwrap();
    held_thread.join().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn busy_poll_wakes_on_socket_input_and_stops_with_the_listeners() {
    let dir = std::env::temp_dir().join(format!("elbus-busy-poll-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bus.sock");
    let broker = Broker::with_options(BrokerOptions {
        busy_poll: Duration::from_millis(1),
        ..BrokerOptions::default()
    });
    let poll = broker.inner.busy_poll.clone().unwrap();
    let mut state = poll.subscribe();
    broker
        .spawn_unix_server(&path, ServerConfig::new())
        .await
        .unwrap();
    let idle = busy_poll::tests::wait_until(&mut state, |state| state.parked).await;
    let client = IpcClient::connect(&Config::new(path.to_str().unwrap(), "test.poll"))
        .await
        .unwrap();
    // Registration is read by the handshake; this frame is the first input of the session.
    let ack = client
        .send("test.poll", b"ping".as_slice(), QoS::Processed)
        .await
        .unwrap();
    ack.await.unwrap();
    busy_poll::tests::wait_until(&mut state, |state| state.parked && state.parks > idle.parks)
        .await;
    broker.stop_listeners();
    assert!(broker.inner.lock_busy_poll_task().is_none());
    std::fs::remove_dir_all(&dir).ok();
}
