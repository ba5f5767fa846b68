//! Access control in the real `elbusd`: socket file mode and group, peer credentials in
//! `client.list`, a second uid (`nobody`, through `setpriv`) held to its `--acl` rules (names it
//! may not register, force-register, `79` for denied targets, masks and topics, one `79` per
//! denied subscription), TCP source networks, SIGHUP reloads for new connections only, and the
//! `.broker` method `client.disconnect`.
//!
//! The second-uid tests need root (to switch uid) and `setpriv` (util-linux); `.ci/run` runs
//! them as root and installs util-linux when `setpriv` is missing. They fail, never skip,
//! without them.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use elbus::ipc::{Client, Config};
use elbus::rpc::{DummyHandlers, RpcClient};
use elbus::QoS;
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::second_uid::{self, acl_file, own_ids, NOBODY_UID, PEER};
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::{CLIENT_TIMEOUT, WAIT};

/// Starts `elbusd` with `args`, its socket directory open to everyone.
fn start(args: &[&str]) -> Broker {
    second_uid::start_shared(&elbusd(), args)
}

fn elbusd() -> BrokerKind {
    BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd"))
}

/// The command that runs `peer.py` as `nobody` (`as_nobody`) or as this process's user.
fn peer_command(as_nobody: bool, path: &str, name: &str, steps: &[&str]) -> Command {
    let mut command = second_uid::python(as_nobody);
    command.arg("-c").arg(PEER).arg(path).arg(name).args(steps);
    command
}

/// Runs `peer.py` to its end and returns its output lines.
///
/// # Panics
///
/// If it fails (the output is shown).
fn peer(as_nobody: bool, path: &str, name: &str, steps: &[&str]) -> Vec<String> {
    let output = peer_command(as_nobody, path, name, steps)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "peer {name} (nobody: {as_nobody}) failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// A `peer.py` that ran its steps and now holds its connection until dropped.
struct HeldPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The lines printed before `held`.
    lines: Vec<String>,
}

impl HeldPeer {
    fn start(as_nobody: bool, path: &str, name: &str, steps: &[&str]) -> Self {
        let mut steps = steps.to_vec();
        steps.push("hold");
        let mut child = peer_command(as_nobody, path, name, &steps)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        loop {
            let line = read_line(&mut stdout);
            assert!(!line.is_empty(), "peer {name} ended early: {lines:?}");
            if line == "held" {
                break;
            }
            lines.push(line);
        }
        HeldPeer {
            child,
            stdin,
            stdout,
            lines,
        }
    }

    /// The next line (`closed` once the broker dropped the connection).
    fn next_line(&mut self) -> String {
        read_line(&mut self.stdout)
    }
}

impl Drop for HeldPeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line without its newline ("" at EOF). The peer's own socket timeout bounds the wait.
fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("peer output");
    line.trim_end().to_owned()
}

/// A hand-driven client of this process's uid over the UNIX socket.
struct Raw(UnixStream);

impl Raw {
    /// Connects and registers `name`; returns the client and the registration byte.
    fn register(path: &Path, name: &str) -> (Raw, u8) {
        let mut stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut greeting = [0u8; 3];
        stream.read_exact(&mut greeting).unwrap();
        stream.write_all(&greeting).unwrap();
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).unwrap();
        let mut hello = (name.len() as u16).to_le_bytes().to_vec();
        hello.extend_from_slice(name.as_bytes());
        stream.write_all(&hello).unwrap();
        stream.read_exact(&mut byte).unwrap();
        (Raw(stream), byte[0])
    }

    fn send(&mut self, op_id: u32, flags: u8, body: &[u8]) {
        let mut frame = op_id.to_le_bytes().to_vec();
        frame.push(flags);
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(body);
        self.0.write_all(&frame).unwrap();
    }

    /// The next non-NOP frame: kind, ACK op id or body length, result code, body; `None` at EOF.
    fn frame(&mut self) -> Option<(u8, u32, u8, Vec<u8>)> {
        loop {
            let mut header = [0u8; 6];
            if self.0.read_exact(&mut header).is_err() {
                return None;
            }
            let word = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
            match header[0] {
                0x00 => continue,
                0xFE => return Some((0xFE, word, header[5], Vec::new())),
                kind => {
                    let mut body = vec![0u8; word as usize];
                    self.0.read_exact(&mut body).ok()?;
                    return Some((kind, word, header[5], body));
                }
            }
        }
    }

    /// Publishes to `topic` with QoS 1 and returns the ACK code.
    fn publish(&mut self, op_id: u32, topic: &str) -> u8 {
        self.send(op_id, 0x41, format!("{topic}\0x").as_bytes());
        self.ack(op_id)
    }

    /// The ACK of `op_id` (deliveries in between are skipped).
    fn ack(&mut self, op_id: u32) -> u8 {
        loop {
            let (kind, id, code, _) = self.frame().expect("connection closed before the ACK");
            if kind == 0xFE {
                assert_eq!(id, op_id, "ACK of another frame");
                return code;
            }
        }
    }

    fn expect_eof(&mut self) {
        while self.frame().is_some() {}
    }
}

/// `client.list` through the RPC layer, as the socket client `name`.
fn client_list(path: &Path, name: &str) -> Vec<rmpv::Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client =
            Client::connect(&Config::new(path.to_str().unwrap(), name).timeout(CLIENT_TIMEOUT))
                .await
                .unwrap_or_else(|e| panic!("{name} cannot connect: {e}"));
        let rpc = RpcClient::new(client, DummyHandlers).unwrap();
        let reply = rpc
            .call(".broker", "client.list", b"", QoS::Processed)
            .await
            .unwrap();
        let list: rmpv::Value = rmp_serde::from_slice(reply.payload()).unwrap();
        list["clients"].as_array().unwrap().clone()
    })
}

fn entry<'a>(clients: &'a [rmpv::Value], name: &str) -> &'a rmpv::Value {
    clients
        .iter()
        .find(|c| c["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in client.list: {clients:?}"))
}

#[test]
fn socket_file_mode_and_group() {
    // The default: 0660, owner and group only; nobody may not connect.
    let broker = start(&[]);
    let meta = std::fs::metadata(broker.unix_path()).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660);
    let path = broker.path(elbus_suite::broker::Transport::Unix);
    let output = peer_command(true, &path, "x", &[])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        !output.status.success()
            && String::from_utf8_lossy(&output.stderr).contains("Permission denied"),
        "nobody connected to a 0660 root socket: {output:?}"
    );
    drop(broker);

    // An explicit mode and group; a member of the group may connect (no rules: anything goes).
    let broker = start(&["--socket-mode", "660", "--socket-group", "nogroup"]);
    let meta = std::fs::metadata(broker.unix_path()).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660);
    assert_eq!(meta.gid(), NOBODY_UID);
    let path = broker.path(elbus_suite::broker::Transport::Unix);
    assert_eq!(
        peer(true, &path, "guest", &["pub:x"]),
        ["reg 01", "pub:x 01"]
    );
    drop(broker);

    let broker = start(&["--socket-mode", "600"]);
    let meta = std::fs::metadata(broker.unix_path()).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    // The staging name used while the mode is set is gone (the lock file that makes the
    // broker the path's owner stays while it runs).
    let dir = broker.unix_path().parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "broker.sock" && n != "broker.sock.lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn client_list_shows_unix_peer_credentials() {
    let broker = start(&["--socket-group", "nogroup"]);
    let path = broker.path(elbus_suite::broker::Transport::Unix);
    let mut guest = HeldPeer::start(true, &path, "guest", &[]);
    assert_eq!(guest.lines, ["reg 01"]);
    let clients = client_list(broker.unix_path(), "lister");
    let guest_entry = entry(&clients, "guest");
    assert_eq!(guest_entry["uid"].as_u64(), Some(u64::from(NOBODY_UID)));
    assert_eq!(guest_entry["gid"].as_u64(), Some(u64::from(NOBODY_UID)));
    // setpriv execs python, so the peer's pid is the child's.
    assert_eq!(
        guest_entry["pid"].as_u64(),
        Some(u64::from(guest.child.id()))
    );
    assert_eq!(guest_entry["denied"].as_u64(), Some(0));
    let (uid, gid) = own_ids();
    let lister = entry(&clients, "lister");
    assert_eq!(lister["uid"].as_u64(), Some(u64::from(uid)));
    assert_eq!(lister["gid"].as_u64(), Some(u64::from(gid)));
    assert_eq!(lister["pid"].as_u64(), Some(u64::from(std::process::id())));
    // In-process clients have no credentials; the keys come after the original ten.
    let broker_entry = entry(&clients, ".broker");
    assert!(broker_entry["uid"].is_nil() && broker_entry["pid"].is_nil());
    let keys: Vec<&str> = broker_entry
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(
        &keys[10..],
        [
            "dropped_frames",
            "forced_disconnects",
            "uid",
            "gid",
            "pid",
            "denied",
            "queue_bytes"
        ]
    );
    drop(guest.stdin.take());
    assert_eq!(guest.next_line(), "");
}

#[test]
fn a_second_uid_is_held_to_its_rules() {
    let (uid, _) = own_ids();
    let dir = TempDir::new("acl");
    let acl = acl_file(
        &dir,
        &format!(
            r#"
[[client]]
name = "owned.*"
uids = [{uid}]

[[client]]
name = "guest.*"
uids = [{NOBODY_UID}]
p2p = ["guest.*", ".broker"]
broadcast = ["guest.*"]
publish = ["guest/#"]
subscribe = ["guest/#", "news/+"]
"#
        ),
    );
    let broker = start(&[
        "--force-register",
        "--socket-group",
        "nogroup",
        "--acl",
        acl.to_str().unwrap(),
    ]);
    let path = broker.path(elbus_suite::broker::Transport::Unix);
    let (mut owner, code) = Raw::register(broker.unix_path(), "owned.a");
    assert_eq!(code, 0x01);

    // Names owned by another uid: refused, even with --force-register, secondaries too.
    assert_eq!(peer(true, &path, "owned.a", &[]), ["reg 79"]);
    assert_eq!(peer(true, &path, "owned.a%%x", &[]), ["reg 79"]);
    assert_eq!(peer(true, &path, "owned.b", &[]), ["reg 79"]);
    assert_eq!(peer(true, &path, "unlisted", &[]), ["reg 79"]);
    assert_eq!(peer(false, &path, "owned.a%%x", &[]), ["reg 01"]);
    // The owner was not evicted: it still talks to itself.
    owner.send(1, 0x52, b"owned.a\0ping");
    let (kind, _, _, body) = owner.frame().unwrap();
    assert_eq!((kind, body.as_slice()), (0x12, b"owned.a\0ping".as_slice()));
    assert_eq!(owner.ack(1), 0x01);

    // Its own name: allowed operations go through, denied ones get 79 (QoS 0: nothing), and
    // the connection survives every denial.
    let steps = [
        "msg:guest.x",
        "msg:owned.a",
        "bcast:guest.*",
        "bcast:*",
        "pub:guest/t",
        "pub:news/x",
        "pubfor:news/x:owned.a",
        "pub0:news/x",
        "sub:guest/#,#,news/x,news/+/x",
        "unsub:#",
        "pub:guest/t",
        "call:client.disconnect:owned.a",
    ];
    let mut guest = HeldPeer::start(true, &path, "guest.x", &steps);
    assert_eq!(
        guest.lines,
        [
            "reg 01",
            "msg:guest.x 01",
            "msg:owned.a 79",
            "bcast:guest.* 01",
            "bcast:* 79",
            "pub:guest/t 01",
            "pub:news/x 79",
            "pubfor:news/x:owned.a 79",
            "pub0:news/x sent",
            "sub:guest/#,#,news/x,news/+/x 79,79,01",
            "unsub:# 01",
            "pub:guest/t 01",
            "call:client.disconnect:owned.a err -32121",
        ]
    );
    // Nothing reached the owner, which the guest may not address.
    owner.send(2, 0x52, b"owned.a\0again");
    let (_, _, _, body) = owner.frame().unwrap();
    assert_eq!(body, b"owned.a\0again");
    assert_eq!(owner.ack(2), 0x01);

    // Each denial is counted, per client and broker-wide, and logged.
    let clients = client_list(broker.unix_path(), "owned.lister");
    assert_eq!(entry(&clients, "guest.x")["denied"].as_u64(), Some(7));
    assert_eq!(entry(&clients, "owned.a")["denied"].as_u64(), Some(0));
    assert!(broker.log().contains("access denied"), "{}", broker.log());

    // The owner's uid may disconnect the guest through `.broker`.
    assert_eq!(
        peer(
            false,
            &path,
            "owned.admin",
            &["call:client.disconnect:guest.x"]
        ),
        ["reg 01", "call:client.disconnect:guest.x ok"]
    );
    assert_eq!(guest.next_line(), "closed");
    owner.send(3, 0x52, b"guest.x\0gone");
    assert_eq!(owner.ack(3), 0x71);
}

#[test]
fn tcp_source_networks() {
    let dir = TempDir::new("acl");
    let acl = acl_file(
        &dir,
        r#"
[[client]]
name = "net10"
networks = ["10.0.0.0/8"]

[[client]]
name = "net127"
networks = ["127.0.0.0/8"]

[[client]]
name = "unixonly"
networks = []
"#,
    );
    let broker = start(&["--acl", acl.to_str().unwrap()]);
    let [unix, tcp] = broker.paths();
    assert_eq!(peer(false, tcp, "net10", &[]), ["reg 79"]);
    assert_eq!(
        peer(false, tcp, "net127", &["pub:x"]),
        ["reg 01", "pub:x 01"]
    );
    assert_eq!(peer(false, tcp, "unixonly", &[]), ["reg 79"]);
    assert_eq!(peer(false, tcp, "stranger", &[]), ["reg 79"]);
    // Networks restrict TCP peers only.
    assert_eq!(peer(false, unix, "unixonly", &[]), ["reg 01"]);
    assert_eq!(peer(false, unix, "stranger", &[]), ["reg 79"]);
    // A TCP peer has no credentials, so it is not trusted with the administrative methods.
    assert_eq!(
        peer(false, tcp, "net127", &["call:client.disconnect:unixonly"]),
        ["reg 01", "call:client.disconnect:unixonly err -32121"]
    );
    assert!(broker
        .log()
        .contains("is not allowed to connect from 127.0.0.1"));
}

#[test]
fn sighup_reload_applies_to_new_connections_only() {
    let dir = TempDir::new("acl");
    let acl = acl_file(&dir, "[[client]]\nname = \"*\"\n");
    let broker = start(&["--acl", acl.to_str().unwrap()]);
    let path = broker.path(elbus_suite::broker::Transport::Unix);
    let (mut live, code) = Raw::register(broker.unix_path(), "live");
    assert_eq!(code, 0x01);
    assert_eq!(live.publish(1, "t"), 0x01);

    std::fs::write(&acl, "[[client]]\nname = \"*\"\npublish = []\n").unwrap();
    broker.signal("HUP");
    broker.wait_for_log("access control reloaded", 1);
    // The live connection keeps the rules it connected with; a new one gets the new rules.
    assert_eq!(live.publish(2, "t"), 0x01);
    assert_eq!(
        peer(false, &path, "fresh", &["pub:t"]),
        ["reg 01", "pub:t 79"]
    );

    // A file that does not load keeps the rules in force.
    std::fs::write(&acl, "[[client]]\nname = 42\n").unwrap();
    broker.signal("HUP");
    broker.wait_for_log("not reloaded", 1);
    assert_eq!(
        peer(false, &path, "fresh", &["pub:t"]),
        ["reg 01", "pub:t 79"]
    );

    // Disconnecting the live client makes it reconnect under the new rules.
    assert_eq!(
        peer(false, &path, "admin", &["call:client.disconnect:live"]),
        ["reg 01", "call:client.disconnect:live ok"]
    );
    live.expect_eof();
    let (mut live, code) = Raw::register(broker.unix_path(), "live");
    assert_eq!(code, 0x01);
    assert_eq!(live.publish(1, "t"), 0x79);
}
