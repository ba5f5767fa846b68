//! Access control for embedders: [`AccessControl`] built in code or parsed from TOML on a
//! listener's [`ServerConfig`], TCP source networks, QoS 0 denials, secondaries under their
//! primary's rule, swapping rules for new connections, the socket file mode, and the denial
//! counters of [`Broker::stats`].

use std::os::unix::fs::MetadataExt;

use elbus::broker::{AccessControl, AccessRule, Broker, ServerConfig, SharedAccessControl};
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::within;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

/// Runs the handshake for `name` and returns the registration byte.
async fn register<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, name: &str) -> u8 {
    let mut greeting = [0u8; 3];
    read(stream, &mut greeting).await;
    stream.write_all(&greeting).await.unwrap();
    let mut byte = [0u8; 1];
    read(stream, &mut byte).await;
    let mut hello = (name.len() as u16).to_le_bytes().to_vec();
    hello.extend_from_slice(name.as_bytes());
    stream.write_all(&hello).await.unwrap();
    read(stream, &mut byte).await;
    byte[0]
}

async fn read<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) {
    within("a read", stream.read_exact(buf))
        .await
        .expect("read failed");
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, op_id: u32, flags: u8, body: &[u8]) {
    let mut frame = op_id.to_le_bytes().to_vec();
    frame.push(flags);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame).await.unwrap();
}

/// The next ACK (`op_id`, code); NOPs and deliveries are skipped.
async fn ack<S: AsyncRead + Unpin>(stream: &mut S) -> (u32, u8) {
    loop {
        let mut header = [0u8; 6];
        read(stream, &mut header).await;
        let word = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
        match header[0] {
            0x00 => {}
            0xFE => return (word, header[5]),
            _ => {
                let mut body = vec![0u8; word as usize];
                read(stream, &mut body).await;
            }
        }
    }
}

#[tokio::test]
async fn tcp_networks_built_in_code() {
    let broker = Broker::new();
    let rules = AccessControl::new()
        .rule(AccessRule {
            networks: Some(vec!["10.0.0.0/8".parse().unwrap()]),
            ..AccessRule::new("far")
        })
        .rule(AccessRule {
            networks: Some(vec!["127.0.0.0/8".parse().unwrap()]),
            publish: Some(vec!["ok/#".into()]),
            subscribe: Some(vec!["x".into()]),
            ..AccessRule::new("near.*")
        });
    let addr = broker
        .spawn_tcp_server("127.0.0.1:0", ServerConfig::new().access_control(rules))
        .await
        .unwrap()
        .to_string();
    let mut far = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(register(&mut far, "far").await, 0x79);
    let mut near = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(register(&mut near, "near.a").await, 0x01);
    // Secondaries share their primary's rule.
    let mut secondary = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(register(&mut secondary, "near.a%%1").await, 0x01);
    send(&mut secondary, 1, 0x41, b"nope\0x").await;
    assert_eq!(ack(&mut secondary).await, (1, 0x79));
    // A denied publish with QoS 0 is dropped without an ACK; the next frame's ACK comes first.
    send(&mut near, 1, 0x01, b"nope\0x").await;
    send(&mut near, 2, 0x41, b"ok/x\0x").await;
    assert_eq!(ack(&mut near).await, (2, 0x01));
    // A subscription of QoS 0 gets no ACK for its denied pattern either.
    send(&mut near, 3, 0x02, b"#").await;
    send(&mut near, 4, 0x42, b"x").await;
    assert_eq!(ack(&mut near).await, (4, 0x01));
    let stats = broker.stats();
    // far's registration, two publishes, one subscription.
    assert_eq!(stats.counters.denied, 4);
    let near_info = broker.client_info("near.a").unwrap();
    assert_eq!(near_info.counters.denied, 2);
    assert!(near_info.credentials.is_none());
    assert_eq!(
        broker.subscriptions_of("near.a").unwrap(),
        [".broker/warn", "x"]
    );
}

#[tokio::test]
async fn toml_rules_swapped_for_new_unix_connections() {
    let dir = TempDir::new("acl-lib");
    let path = dir.join("b.sock");
    let shared = SharedAccessControl::new(
        AccessControl::from_toml("[[client]]\nname = \"*\"\nsubscribe = [\"a/#\"]\n").unwrap(),
    );
    let broker = Broker::new();
    broker
        .spawn_unix_server(
            &path,
            ServerConfig::new()
                .unix_mode(Some(0o640))
                .access_control(shared.clone()),
        )
        .await
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o640);
    let mut old = UnixStream::connect(&path).await.unwrap();
    assert_eq!(register(&mut old, "old").await, 0x01);
    shared.replace(AccessControl::from_toml("[[client]]\nname = \"new\"\n").unwrap());
    let mut refused = UnixStream::connect(&path).await.unwrap();
    assert_eq!(register(&mut refused, "other").await, 0x79);
    let mut new = UnixStream::connect(&path).await.unwrap();
    assert_eq!(register(&mut new, "new").await, 0x01);
    // The old connection keeps its rules: one 79 per denied pattern, then the frame's 01.
    send(&mut old, 9, 0x42, b"a/x\0#\0b").await;
    assert_eq!(ack(&mut old).await, (9, 0x79));
    assert_eq!(ack(&mut old).await, (9, 0x79));
    assert_eq!(ack(&mut old).await, (9, 0x01));
    assert_eq!(
        broker.subscriptions_of("old").unwrap(),
        [".broker/warn", "a/x"]
    );
    send(&mut new, 1, 0x42, b"#").await;
    assert_eq!(ack(&mut new).await, (1, 0x01));
    // UNIX clients carry their credentials.
    let own_uid = std::fs::metadata("/proc/self").unwrap().uid();
    let info = broker.client_info("new").unwrap();
    assert_eq!(info.credentials.map(|c| c.uid), Some(own_uid));
    assert_eq!(
        info.credentials.and_then(|c| c.pid),
        Some(std::process::id() as i32)
    );
}
