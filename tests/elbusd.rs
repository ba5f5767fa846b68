//! The real `elbusd` binary: the `.broker` RPC methods and announcements byte for byte, FIFO
//! lines of every kind, graceful shutdown (announcement received, files removed, exit 0) and bind
//! errors.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use elbus::ipc::{Client, Config};
use elbus::rpc::{DummyHandlers, RpcClient};
use elbus::{AsyncClient, EventChannel, Frame, QoS};
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::{within, CLIENT_TIMEOUT, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn elbusd() -> BrokerKind {
    BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd"))
}

async fn connect(path: &str, name: &str) -> Client {
    Client::connect(&Config::new(path, name).timeout(CLIENT_TIMEOUT))
        .await
        .unwrap_or_else(|e| panic!("{name} cannot connect to {path}: {e}"))
}

async fn next(events: &mut EventChannel) -> Frame {
    within("a frame", events.recv())
        .await
        .expect("the connection closed")
}

/// Reads broker→client frames from a raw socket, skipping NOPs: `(header, body)`.
async fn raw_frame(stream: &mut tokio::net::UnixStream) -> ([u8; 6], Vec<u8>) {
    loop {
        let mut header = [0u8; 6];
        within("a frame header", stream.read_exact(&mut header))
            .await
            .unwrap();
        match header[0] {
            0x00 => continue,
            0xFE => return (header, Vec::new()),
            _ => {
                let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
                let mut body = vec![0u8; len as usize];
                stream.read_exact(&mut body).await.unwrap();
                return (header, body);
            }
        }
    }
}

#[tokio::test]
async fn broker_test_call_matches_the_spec_bytes() {
    let broker = Broker::start(&elbusd());
    let mut stream = tokio::net::UnixStream::connect(broker.unix_path())
        .await
        .unwrap();
    let mut greeting = [0u8; 3];
    stream.read_exact(&mut greeting).await.unwrap();
    stream.write_all(&greeting).await.unwrap();
    let mut ok = [0u8; 1];
    stream.read_exact(&mut ok).await.unwrap();
    stream.write_all(b"\x01\x00a").await.unwrap();
    stream.read_exact(&mut ok).await.unwrap();
    assert_eq!(ok, [0x01]);
    // §7: a->B 65 00 00 00 | 52 | 12 00 00 00 | .broker 00 | 01 01 00 00 00 test 00
    stream
        .write_all(b"\x65\x00\x00\x00\x52\x12\x00\x00\x00.broker\x00\x01\x01\x00\x00\x00test\x00")
        .await
        .unwrap();
    // The ACK and the reply travel separately; the spec shows the ACK first.
    let mut frames = [raw_frame(&mut stream).await, raw_frame(&mut stream).await];
    frames.sort_by_key(|(header, _)| std::cmp::Reverse(header[0]));
    assert_eq!(frames[0], ([0xFE, 0x65, 0, 0, 0, 0x01], vec![]));
    assert_eq!(frames[1].0, [0x12, 0x12, 0, 0, 0, 0]);
    assert_eq!(
        frames[1].1,
        b".broker\x00\x11\x01\x00\x00\x00\x81\xa2ok\xc3".to_vec()
    );
    // An unknown method: error reply, code -32601 (A7 80), no data.
    stream
        .write_all(b"\x66\x00\x00\x00\x52\x12\x00\x00\x00.broker\x00\x01\x02\x00\x00\x00nope\x00")
        .await
        .unwrap();
    let mut frames = [raw_frame(&mut stream).await, raw_frame(&mut stream).await];
    frames.sort_by_key(|(header, _)| std::cmp::Reverse(header[0]));
    assert_eq!(
        frames[1].1,
        b".broker\x00\x12\x02\x00\x00\x00\xa7\x80".to_vec()
    );
}

#[tokio::test]
async fn broker_methods_answer_like_the_original() {
    let broker = Broker::start(&elbusd());
    let [unix, tcp] = broker.paths();
    let rpc = RpcClient::new(connect(unix, "m.unix").await, DummyHandlers).unwrap();
    let _tcp_client = connect(tcp, "m.tcp").await;
    let call = |method: &'static str, params: &'static [u8]| {
        let rpc = rpc.clone();
        async move { rpc.call(".broker", method, params, QoS::Processed).await }
    };
    assert_eq!(
        call("test", b"").await.unwrap().payload(),
        b"\x81\xa2ok\xc3"
    );
    let info = call("info", b"").await.unwrap();
    let mut expected = b"\x82\xa6author\xd9\x27".to_vec();
    expected.extend_from_slice(elbus::AUTHOR.as_bytes());
    expected.extend_from_slice(b"\xa7version");
    expected.push(0xA0 | elbus::VERSION.len() as u8);
    expected.extend_from_slice(elbus::VERSION.as_bytes());
    assert_eq!(info.payload(), expected);
    assert_eq!(call("test", b"\x91\x01").await.unwrap_err().code(), -32602);
    let unknown = call("no.such", b"").await.unwrap_err();
    assert_eq!((unknown.code(), unknown.data()), (-32601, None));
    assert_eq!(
        call("benchmark.test", b"\x01\x02\x03")
            .await
            .unwrap()
            .payload(),
        b"\x01\x02\x03"
    );

    let stats: rmpv::Value =
        rmp_serde::from_slice(call("stats", b"").await.unwrap().payload()).unwrap();
    let keys: Vec<&str> = stats
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(
        keys[..5],
        ["uptime", "r_frames", "r_bytes", "w_frames", "w_bytes"]
    );

    let list: rmpv::Value =
        rmp_serde::from_slice(call("client.list", b"").await.unwrap().payload()).unwrap();
    let clients = list["clients"].as_array().unwrap();
    let names: Vec<&str> = clients
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [".broker", "m.tcp", "m.unix"]);
    let by_name = |name: &str| {
        clients
            .iter()
            .find(|c| c["name"].as_str() == Some(name))
            .unwrap()
    };
    assert_eq!(by_name(".broker")["kind"].as_str(), Some("internal"));
    assert!(by_name(".broker")["port"].is_nil());
    assert_eq!(by_name("m.unix")["kind"].as_str(), Some("local_ipc"));
    assert_eq!(by_name("m.unix")["port"].as_str(), Some(unix));
    assert!(by_name("m.unix")["source"].is_nil());
    assert_eq!(by_name("m.tcp")["kind"].as_str(), Some("tcp"));
    assert_eq!(by_name("m.tcp")["port"].as_str(), Some(tcp));
    assert!(by_name("m.tcp")["source"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    let filter =
        rmp_serde::to_vec_named(&std::collections::BTreeMap::from([("filter", "tcp$")])).unwrap();
    let filtered = rpc
        .call(".broker", "client.list", &filter, QoS::Processed)
        .await
        .unwrap();
    let filtered: rmpv::Value = rmp_serde::from_slice(filtered.payload()).unwrap();
    assert_eq!(filtered["clients"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn registrations_are_announced_on_broker_info() {
    let broker = Broker::start(&elbusd());
    let [unix, _] = broker.paths();
    let watcher = connect(unix, "watcher").await;
    let mut events = watcher.take_event_channel().unwrap();
    watcher
        .subscribe(".broker/info", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    let newcomer = connect(unix, "newcomer").await;
    let secondary = newcomer.register_secondary().await.unwrap();
    drop(secondary);
    newcomer.disconnect().await;
    // {"s":"reg","d":"newcomer","t":<u64 ns>} then unreg; no frame for the secondary.
    let reg = next(&mut events).await;
    assert_eq!(
        (reg.sender(), reg.topic()),
        (".broker", Some(".broker/info"))
    );
    assert_eq!(
        &reg.payload()[..20],
        b"\x83\xa1s\xa3reg\xa1d\xa8newcomer\xa1t"
    );
    assert_eq!(reg.payload()[20], 0xCF);
    assert_eq!(reg.payload().len(), 29);
    let unreg = next(&mut events).await;
    assert_eq!(
        &unreg.payload()[..22],
        b"\x83\xa1s\xa5unreg\xa1d\xa8newcomer\xa1t"
    );
}

#[tokio::test]
async fn fifo_lines_of_every_kind_run_as_the_broker() {
    let files = TempDir::new("fifo");
    let fifo = files.join("elbus.fifo");
    let fifo_arg = format!("fifo:{}", fifo.display());
    let broker = Broker::start_with_args(&elbusd(), &["-B", &fifo_arg]);
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(&fifo).unwrap();
    assert!(meta.file_type().is_fifo());
    // The socket's mode (0660 by default), not the original's world-writable 0622: its lines
    // run as `.broker` (tests/hostile_acl.rs has the attack).
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);

    let listener = connect(broker.paths()[0], "fifo.l").await;
    let mut events = listener.take_event_channel().unwrap();
    listener
        .subscribe("t/#", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    // The malformed first line is logged and skipped; every line after it still runs.
    let lines = "garbage\n\
                 =t/x payload more\n\
                 fifo.l hello world\n\
                 fifo.* bc\n\
                 fifo.l .note\n\
                 fifo.l :meth x=1 y=true z=abc f=1.5\n";
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let publish = next(&mut events).await;
    assert_eq!(
        (publish.sender(), publish.topic(), publish.payload()),
        (".broker", Some("t/x"), &b"payload"[..])
    );
    assert_eq!(next(&mut events).await.payload(), b"hello");
    let broadcast = next(&mut events).await;
    assert_eq!(
        (broadcast.kind(), broadcast.payload()),
        (elbus::FrameKind::Broadcast, &b"bc"[..])
    );
    assert_eq!(next(&mut events).await.payload(), b"\x00note");
    let call = next(&mut events).await;
    assert_eq!(&call.payload()[..10], b"\x01\x00\x00\x00\x00meth\x00");
    let params: rmpv::Value = rmp_serde::from_slice(&call.payload()[10..]).unwrap();
    assert_eq!(params["x"], rmpv::Value::from(1));
    assert_eq!(params["y"], rmpv::Value::Boolean(true));
    assert_eq!(params["z"], rmpv::Value::from("abc"));
    assert_eq!(params["f"], rmpv::Value::F64(1.5));
}

/// Starts elbusd with a socket, a FIFO and a pid file, sends `signal`, and checks the shutdown
/// announcement, the exit status and that every file is gone.
async fn graceful_shutdown(signal: &str) {
    let files = TempDir::new("shutdown");
    let fifo = files.join("elbus.fifo");
    let pid_file = files.join("elbus.pid");
    let fifo_arg = format!("fifo:{}", fifo.display());
    let mut broker = Broker::start_with_args(
        &elbusd(),
        &["-B", &fifo_arg, "-P", pid_file.to_str().unwrap()],
    );
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        broker.pid().to_string()
    );
    let unix = broker.paths()[0].to_owned();
    // No subscription: every client is subscribed to .broker/warn at registration.
    let client = connect(&unix, "bystander").await;
    let mut events = client.take_event_channel().unwrap();
    broker.signal(signal);
    let warn = next(&mut events).await;
    assert_eq!(warn.topic(), Some(".broker/warn"));
    assert_eq!(&warn.payload()[..15], b"\x82\xa1s\xa8shutdown\xa1t\xcf");
    assert_eq!(warn.payload().len(), 23);
    let status = tokio::task::spawn_blocking(move || {
        let status = broker.wait_exit();
        (status, broker)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit status {:?}", status.0);
    for path in [Path::new(&unix), &fifo, &pid_file] {
        assert!(!path.exists(), "{} was not removed", path.display());
    }
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    graceful_shutdown("TERM").await;
}

#[tokio::test]
async fn sigint_shuts_down_gracefully() {
    graceful_shutdown("INT").await;
}

/// Runs elbusd with `args` and returns its exit status and output, once it exits by itself.
fn run_to_exit(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_elbusd"));
    command.args(args);
    run_command_to_exit(command)
}

/// Runs `command` and returns its exit status and output, once it exits by itself.
fn run_command_to_exit(mut command: Command) -> (std::process::ExitStatus, String) {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(WAIT)
        .expect("elbusd kept running where it should have failed to bind")
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status, text)
}

#[test]
fn bind_errors_exit_non_zero_with_a_clear_message() {
    let running = Broker::start(&elbusd());
    let [unix, tcp] = running.paths();
    for (args, expected) in [
        (vec!["-B", unix], "another process is listening"),
        (vec!["-B", tcp], "unable to bind"),
        (vec!["-B", "/etc/passwd/x.sock"], "unable to bind"),
        (vec!["-B", "not-an-address"], "invalid bind address"),
    ] {
        let (status, output) = run_to_exit(&args);
        assert!(!status.success(), "{args:?} exited {status:?}");
        assert!(
            output.contains(expected),
            "{args:?}: expected {expected:?} in:\n{output}"
        );
    }
    // The running broker kept its socket.
    assert!(Path::new(unix).exists());
}

#[test]
fn binding_where_the_user_may_not_write_fails_with_the_reason() {
    // The tests run as root, who may write anywhere; run elbusd as `nobody` instead (setpriv
    // is installed by .ci/run, as for the access-control tests), in a directory only root may
    // enter.
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect(
            "setpriv (util-linux) is needed to run elbusd as nobody: apt-get install util-linux",
        );
    let private = TempDir::new("private");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = private.join("elbus.sock");
    let mut command = Command::new(setpriv);
    command
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_elbusd"))
        .arg("-B")
        .arg(&socket);
    let (status, output) = run_command_to_exit(command);
    assert!(!status.success(), "exited {status:?}:\n{output}");
    assert!(
        output.contains("unable to bind") && output.contains("Permission denied"),
        "expected the path and the reason in:\n{output}"
    );
}
