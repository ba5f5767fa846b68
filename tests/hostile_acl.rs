//! Hostile clients against the access-control rules, the FIFO channel and the log of the real
//! `elbusd`: wildcard masks and patterns that a rule's `?` / `+` must not let through (pattern
//! containment), a uid-restricted rule that must refuse TCP peers (a second uid, `nobody`,
//! through `setpriv`), a FIFO that `nobody` must not be able to write at the defaults, names
//! and topics with newlines that must not forge log lines, and floods of bad input that must
//! write a bounded number of log lines. A well-behaved [`Bystander`] round-trips through every
//! attack.
//!
//! Like `tests/acl_elbusd.rs`, the second-uid cases need root and `setpriv` (util-linux); they
//! fail, never skip, without them.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Output};
use std::time::Instant;

use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::bystander::Bystander;
use elbus_suite::raw::{Raw, MESSAGE_ACKED, PUBLISH_ACKED, SUBSCRIBE_ACKED, WAIT};
use elbus_suite::second_uid::{self, acl_file, own_ids, NOBODY_GID, PEER};
use elbus_suite::tempdir::TempDir;
use tokio::net::UnixStream;

/// Flags byte of a broadcast with QoS Processed (`0x13 | 1 << 6`).
const BROADCAST_ACKED: u8 = 0x53;
/// Flags byte of a one-to-one message with QoS No.
const MESSAGE_NO_ACK: u8 = 0x12;
/// The `.broker` RPC call `test`, call id 1, as a message body to `.broker`.
const BROKER_TEST_CALL: &[u8] = b".broker\0\x01\x01\x00\x00\x00test\x00";

/// Starts `elbusd` with `args`, its socket directory open to everyone.
fn start(args: &[&str]) -> Broker {
    second_uid::start_shared(&elbusd(), args)
}

/// `python3 ARGS...` run as `nobody:nogroup` through `setpriv`.
fn as_nobody(args: &[&str]) -> Command {
    let mut command = second_uid::python(true);
    command.args(args);
    command
}

fn elbusd() -> BrokerKind {
    BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd"))
}

/// Runs `peer.py` as `nobody` against `path` and returns its output lines.
fn nobody_peer(path: &str, name: &str, steps: &[&str]) -> Vec<String> {
    let mut args = vec!["-c", PEER, path, name];
    args.extend_from_slice(steps);
    let output = run_blocking(as_nobody(&args));
    assert!(
        output.status.success(),
        "peer {name} failed: {output:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `command` to its end without holding up the async runtime's other tasks.
fn run_blocking(mut command: Command) -> Output {
    tokio::task::block_in_place(|| command.output().expect("the command runs"))
}

/// Waits (bounded) until the broker has printed `count` lines containing `text`.
fn wait_for_log(broker: &Broker, text: &str, count: usize) {
    tokio::task::block_in_place(|| broker.wait_for_log(text, count));
}

/// Reads frames until one that is not an ACK; returns its body.
async fn next_delivery(raw: &mut Raw<UnixStream>) -> Vec<u8> {
    loop {
        let (header, body) = raw.frame().await;
        if header[0] != 0xFE {
            return body;
        }
    }
}

/// Sends a message from `raw` (registered as `name`) to itself and waits for it and its ACK:
/// the client is still connected and served.
async fn self_round_trip(raw: &mut Raw<UnixStream>, name: &str, op_id: u32) {
    let body = format!("{name}\0still here {op_id}");
    raw.send(op_id, MESSAGE_ACKED, body.as_bytes()).await;
    let (_, delivered) = raw.frame().await;
    assert!(delivered.ends_with(format!("still here {op_id}").as_bytes()));
    assert_eq!(
        raw.ack().await,
        [0xFE, op_id.to_le_bytes()[0], 0, 0, 0, 0x01]
    );
}

/// A rule's `?` and `+` chunks admit one part, never a client's `*` or `#`: a broadcast mask
/// or a subscription pattern must be contained in a rule pattern, not merely match it as a
/// string. Before containment, `*.alerts` passed `?.alerts` and reached every client, and
/// `#/public` (which means `#`) passed `+/public` and received everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcards_cannot_widen_a_rule() {
    let dir = TempDir::new("hacl");
    let acl = acl_file(
        &dir,
        r#"
[[client]]
name = "watch.*"
p2p = [".broker"]
broadcast = ["?.alerts"]
publish = []
subscribe = ["+/public"]

[[client]]
name = "*"
"#,
    );
    let broker = start(&["--acl", acl.to_str().unwrap()]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&broker.path(Transport::Unix), "bystander").await;
    let mut victim = Raw::register(&path, "victim.alerts").await;
    let mut watcher = Raw::register(&path, "watch.a").await;

    // `*.alerts` is `*`: refused. An exact name under `?.alerts` still goes through, and it is
    // the first thing the victim receives.
    watcher.send(1, BROADCAST_ACKED, b"*.alerts\0attack").await;
    assert_eq!(
        watcher.ack().await[5],
        0x79,
        "`?.alerts` allowed `*.alerts`"
    );
    watcher.send(2, BROADCAST_ACKED, b"*\0attack").await;
    assert_eq!(watcher.ack().await[5], 0x79);
    watcher
        .send(3, BROADCAST_ACKED, b"victim.alerts\0legit")
        .await;
    assert_eq!(watcher.ack().await[5], 0x01);
    assert!(next_delivery(&mut victim).await.ends_with(b"legit"));
    bystander.wait_rounds(1).await;

    // `#/public` and `#` are refused one by one (79 each), `x/public` is subscribed (01).
    watcher
        .send(4, SUBSCRIBE_ACKED, b"#/public\0#\0x/public")
        .await;
    let acks = [
        watcher.ack().await,
        watcher.ack().await,
        watcher.ack().await,
    ];
    assert_eq!(
        acks.map(|ack| ack[5]),
        [0x79, 0x79, 0x01],
        "`+/public` allowed `#/public`"
    );
    // Nothing but `x/public` reaches the watcher: not a secret topic, not `.broker/info`.
    let late = Raw::register(&path, "late.client").await;
    victim.send(5, PUBLISH_ACKED, b"secret/x\0s").await;
    assert_eq!(victim.ack().await[5], 0x01);
    victim.send(6, PUBLISH_ACKED, b"x/public\0p").await;
    assert_eq!(victim.ack().await[5], 0x01);
    let first = next_delivery(&mut watcher).await;
    assert!(
        first.starts_with(b"victim.alerts\0x/public\0"),
        "the watcher received {:?} first",
        String::from_utf8_lossy(&first)
    );
    drop(late);
    bystander.wait_rounds(1).await;
    self_round_trip(&mut victim, "victim.alerts", 7).await;
    bystander.finish().await;
}

/// A rule that restricts by uid but names no networks refuses TCP peers: before, `nobody`
/// registered the `admin = true` name over loopback TCP and disconnected another client.
/// Rules that name networks still admit TCP peers, the uid rule still admits its owner over
/// UNIX, and the load-time warning names the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uid_rules_are_closed_over_tcp() {
    let (uid, gid) = own_ids();
    let dir = TempDir::new("hacl");
    let acl = acl_file(
        &dir,
        &format!(
            r#"
[[client]]
name = "admin"
uids = [{uid}]
admin = true

[[client]]
name = "ops.*"
gids = [{gid}]
networks = ["127.0.0.0/8"]

[[client]]
name = "*"
"#
        ),
    );
    let broker = start(&["--acl", acl.to_str().unwrap()]);
    let path = broker.unix_path().to_owned();
    let tcp = broker.tcp_addr().to_owned();
    let bystander = Bystander::start(&broker.path(Transport::Unix), "bystander").await;
    let mut victim = Raw::register(&path, "victim").await;

    // The attack: `nobody` over TCP takes the admin name and disconnects the victim.
    assert_eq!(
        nobody_peer(&tcp, "admin", &["call:client.disconnect:victim"]),
        ["reg 79"],
        "nobody registered the uid-restricted admin name over TCP"
    );
    bystander.wait_rounds(1).await;
    self_round_trip(&mut victim, "victim", 1).await;
    wait_for_log(
        &broker,
        r#"access rule "admin": uids/gids without networks: TCP peers are refused"#,
        1,
    );
    // Over TCP the broker cannot know the uid, so even the owner's uid is refused there...
    let mut owner_tcp = Raw::connect_tcp(&tcp).await;
    assert_eq!(owner_tcp.handshake("admin").await, Some(0x79));
    wait_for_log(&broker, "so TCP peers are refused", 2);
    // ...and admitted over UNIX, as are TCP peers of a rule that names their network.
    let mut owner = Raw::register(&path, "admin").await;
    self_round_trip(&mut owner, "admin", 1).await;
    let mut ops = Raw::connect_tcp(&tcp).await;
    assert_eq!(ops.handshake("ops.a").await, Some(0x01));
    assert_eq!(
        nobody_peer(&tcp, "anyone", &["pub:t"]),
        ["reg 01", "pub:t 01"]
    );
    self_round_trip(&mut victim, "victim", 2).await;
    bystander.finish().await;
}

/// The FIFO channel acts as `.broker`, which no rule checks, so it gets the socket's mode and
/// group: 0660 and the broker's group at the defaults (before: 0622, and `nobody` could make
/// `.broker` disconnect anyone). With `--socket-group`, that group's members may write it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_cannot_write_the_fifo_at_the_defaults() {
    let dir = TempDir::new("hfifo");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let fifo = dir.join("cmd.fifo");
    let bind = format!("fifo:{}", fifo.display());
    let broker = start(&["-B", &bind]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&broker.path(Transport::Unix), "bystander").await;
    let mut victim = Raw::register(&path, "victim").await;

    let meta = std::fs::metadata(&fifo).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()));
    assert_eq!(meta.mode() & 0o7777, 0o660, "the FIFO's mode");
    let write_line = "import sys; open(sys.argv[1], 'w').write(sys.argv[2] + '\\n')";
    let attack = ".broker :client.disconnect name=victim";
    let fifo_arg = fifo.to_str().unwrap();
    let output = run_blocking(as_nobody(&["-c", write_line, fifo_arg, attack]));
    assert!(
        !output.status.success()
            && String::from_utf8_lossy(&output.stderr).contains("Permission denied"),
        "nobody wrote the FIFO: {output:?}"
    );
    bystander.wait_rounds(1).await;
    self_round_trip(&mut victim, "victim", 1).await;
    // No staging name is left beside the pipe (its lock file is held while it is served).
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "cmd.fifo" && n != "cmd.fifo.lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    bystander.finish().await;
    drop(broker);

    // The socket's group applies to the FIFO too: a member of it may write commands.
    let broker = start(&["-B", &bind, "--socket-group", "nogroup"]);
    let meta = std::fs::metadata(&fifo).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o660, NOBODY_GID));
    let mut listener = Raw::register(broker.unix_path(), "listener").await;
    listener.send(1, SUBSCRIBE_ACKED, b"fifo/t").await;
    assert_eq!(listener.ack().await[5], 0x01);
    let output = run_blocking(as_nobody(&["-c", write_line, fifo_arg, "=fifo/t hello"]));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        next_delivery(&mut listener).await,
        b".broker\0fifo/t\0hello"
    );
}

/// Two invalid names and a denied topic holding newlines write escaped text,
/// never a line of their own: before, `evil\n<timestamp> WARN ...` forged a log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newlines_in_client_text_forge_no_log_line() {
    let dir = TempDir::new("hacl");
    let acl = acl_file(
        &dir,
        r#"
[[client]]
name = "app.*"
subscribe = ["app/#"]

[[client]]
name = "bystander"
"#,
    );
    let broker = start(&["--acl", acl.to_str().unwrap()]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&broker.path(Transport::Unix), "bystander").await;

    let forged = "2026-01-01T00:00:00.000000Z  WARN client app.admin: FORGED";
    let mut refused = Raw::connect(&path).await;
    assert_eq!(
        refused.handshake(&format!("evil\n{forged}")).await,
        // A control character makes the name invalid before any rule is looked at.
        Some(0x72)
    );
    let mut invalid = Raw::connect(&path).await;
    let answer = invalid.handshake(&format!(".dot\r\n{forged}")).await;
    assert_ne!(answer, Some(0x01));
    let mut app = Raw::register(&path, "app.x").await;
    app.send(1, SUBSCRIBE_ACKED, format!("news/a\n{forged}").as_bytes())
        .await;
    assert_eq!(app.ack().await[5], 0x79);
    assert_eq!(app.ack().await[5], 0x01);
    bystander.wait_rounds(1).await;

    // Both refusals and the denial are logged (the session errors and the denial line)...
    wait_for_log(&broker, "access denied", 1);
    wait_for_log(&broker, "Invalid client name", 2);
    let log = broker.log();
    // ...with the newlines escaped inside the one line of each event.
    assert!(log.contains(r"evil\n2026-01-01T00:00:00"), "{log}");
    assert!(log.contains(r"news/a\n2026-01-01T00:00:00"), "{log}");
    assert!(log.contains(r".dot\r\n2026-01-01T00:00:00"), "{log}");
    let forged_lines: Vec<&str> = log
        .lines()
        .filter(|line| {
            line.starts_with("2026-01-01") || (line.contains("FORGED") && !line.contains(r"\n"))
        })
        .collect();
    assert!(
        forged_lines.is_empty(),
        "forged log lines: {forged_lines:#?}"
    );
    bystander.finish().await;
}

/// The access-control file of the flood cases: `flood.*` may message `.broker`.
const FLOOD_ACL: &str = r#"
[[client]]
name = "flood.*"
p2p = [".broker", "flood.*"]

[[client]]
name = "*"
"#;

/// 100,000 invalid `.broker` payloads write at most 10 lines a second, the number suppressed
/// reported (before: 100,000 WARN lines in under a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_invalid_broker_payloads_writes_a_bounded_number_of_log_lines() {
    const PAYLOADS: usize = 100_000;
    let dir = TempDir::new("hacl");
    let acl = acl_file(&dir, FLOOD_ACL);
    let broker = start(&["--acl", acl.to_str().unwrap()]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&broker.path(Transport::Unix), "bystander").await;

    // Invalid RPC payloads (an unknown RPC type byte) to `.broker`, QoS 0, in one write.
    let started = Instant::now();
    let mut flooder = Raw::register(&path, "flood.rpc").await;
    let invalid = elbus_suite::raw::request(0, MESSAGE_NO_ACK, b".broker\0\xff");
    flooder.write(&invalid.repeat(PAYLOADS)).await;
    bystander.wait_rounds(1).await;
    // `.broker` answers in order: once the reply to this call is back, every payload before it
    // has been handled (and logged, or not).
    let broker_replied = |body: &[u8]| body.starts_with(b".broker\0\x11\x01\x00\x00\x00");
    flooder.send(1, MESSAGE_ACKED, BROKER_TEST_CALL).await;
    while !broker_replied(&next_delivery(&mut flooder).await) {}
    let elapsed = started.elapsed();
    wait_for_log(&broker, "invalid RPC payload", 1);
    let lines = broker.log().matches("invalid RPC payload").count() as u64;
    let bound = 10 * (elapsed.as_secs() + 2);
    assert!(
        lines <= bound,
        "{lines} log lines for {PAYLOADS} invalid payloads in {elapsed:?}"
    );
    // The suppressed lines are counted and reported with the first line of a later second.
    let deadline = Instant::now() + WAIT;
    let mut op_id = 2;
    while !broker
        .log()
        .contains("log lines suppressed (RPC warnings about peers)")
    {
        assert!(Instant::now() < deadline, "no suppressed-lines report");
        flooder.write(&invalid).await;
        flooder.send(op_id, MESSAGE_ACKED, BROKER_TEST_CALL).await;
        while !broker_replied(&next_delivery(&mut flooder).await) {}
        op_id += 1;
    }
    bystander.finish().await;
}

/// Hundreds of connections that each end with a logged error (an unknown op, an invalid name)
/// write at most 10 lines a second (before: one ERROR line each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_connections_writes_a_bounded_number_of_log_lines() {
    const BAD_CLIENTS: usize = 200;
    let dir = TempDir::new("hacl");
    let acl = acl_file(&dir, FLOOD_ACL);
    let broker = start(&["--acl", acl.to_str().unwrap()]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&broker.path(Transport::Unix), "bystander").await;

    let started = Instant::now();
    for n in 0..BAD_CLIENTS {
        if n % 2 == 0 {
            let mut raw = Raw::register(&path, &format!("flood.bad{n}")).await;
            raw.send(1, 0x3F, b"").await;
            raw.expect_eof().await;
        } else {
            let mut raw = Raw::connect(&path).await;
            assert_ne!(raw.handshake(&format!(".bad{n}")).await, Some(0x01));
        }
        if n == BAD_CLIENTS / 2 {
            bystander.wait_rounds(1).await;
        }
    }
    let elapsed = started.elapsed();
    wait_for_log(&broker, "Invalid frame type", 1);
    // The last refusal is logged by the time another client's round trip has completed.
    bystander.wait_rounds(1).await;
    let log = broker.log();
    let lines =
        log.matches("Invalid frame type").count() + log.matches("Invalid client name").count();
    let bound = 10 * (elapsed.as_secs() + 2);
    assert!(
        lines as u64 <= bound,
        "{lines} log lines for {BAD_CLIENTS} bad clients in {elapsed:?}"
    );
    bystander.finish().await;
}
