//! Hostile names, topics and subscriptions against the real `elbusd`: names and patterns of
//! tens of thousands of parts, subscription floods, and names that would impersonate another
//! client through a NUL or an invisible character.
//!
//! Each case runs a [`Bystander`] that keeps round-tripping while the attack goes on, reads the
//! broker's memory (`VmRSS` / `VmHWM`) before, during and after, and checks the documented
//! answer: registration `72` for a refused name, ACK `72` for a topic, mask or pattern over the
//! size bounds, ACK `74` for a subscription past the per-client limit (defaults: 1 KiB and 128
//! parts, 10,000 patterns, `BrokerOptions` in `elbus/src/broker/config.rs`).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use elbus::broker::{Broker as Embedded, BrokerOptions, PathLimits};
use elbus::{AsyncClient, ErrorKind, QoS};
use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::bystander::Bystander;
use elbus_suite::procstat::{self, Memory};
use elbus_suite::raw::{Raw, PUBLISH_ACKED, SUBSCRIBE_ACKED};
use tokio::io::{AsyncRead, AsyncWrite};

/// Flags of an exclude with QoS Processed (`0x04 | 1 << 6`).
const EXCLUDE_ACKED: u8 = 0x44;
/// Flags of a broadcast with QoS Processed (`0x13 | 1 << 6`).
const BROADCAST_ACKED: u8 = 0x53;
/// The registration answer and ACK code for refused data.
const ERR_DATA: u8 = 0x72;
/// The ACK code for a pattern past the per-client limit.
const ERR_OTHER: u8 = 0x74;

fn elbusd(extra: &[&str]) -> Broker {
    let mut args = vec!["-w", "2"];
    args.extend_from_slice(extra);
    Broker::start_with_args(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")), &args)
}

fn memory(broker: &Broker) -> Memory {
    procstat::memory(broker.pid())
}

/// Prints the broker's log when a test fails, to show what the broker said about it.
struct LogOnPanic<'a>(&'a Broker);

impl Drop for LogOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("elbusd log:\n{}", self.0.log());
        }
    }
}

/// A name of `parts` one-letter parts (`a.a.a...`), `2 × parts - 1` bytes.
fn deep_name(prefix: &str, parts: usize) -> String {
    let mut name = String::from(prefix);
    name.push_str(&".a".repeat(parts - 1));
    name
}

/// Registers `name` over `transport`; returns the connection and the registration answer.
async fn register(broker: &Broker, transport: Transport, name: &[u8]) -> (Conn, Option<u8>) {
    let mut conn = Conn::connect(broker, transport).await;
    let answer = match &mut conn {
        Conn::Unix(raw) => raw.handshake_bytes(name).await,
        Conn::Tcp(raw) => raw.handshake_bytes(name).await,
    };
    (conn, answer)
}

/// A raw connection over either transport.
enum Conn {
    Unix(Raw<tokio::net::UnixStream>),
    Tcp(Raw<tokio::net::TcpStream>),
}

impl Conn {
    async fn connect(broker: &Broker, transport: Transport) -> Self {
        match transport {
            Transport::Unix => Conn::Unix(Raw::connect(broker.unix_path()).await),
            Transport::Tcp => Conn::Tcp(Raw::connect_tcp(broker.tcp_addr()).await),
        }
    }

    async fn send(&mut self, op_id: u32, flags: u8, body: &[u8]) {
        match self {
            Conn::Unix(raw) => raw.send(op_id, flags, body).await,
            Conn::Tcp(raw) => raw.send(op_id, flags, body).await,
        }
    }

    async fn frame(&mut self) -> ([u8; 6], Vec<u8>) {
        match self {
            Conn::Unix(raw) => raw.frame().await,
            Conn::Tcp(raw) => raw.frame().await,
        }
    }

    /// The codes of every ACK for `op_id` up to and including its `01` (refusal ACKs come
    /// first); other frames are skipped.
    async fn acks_until_ok(&mut self, op_id: u32) -> Vec<u8> {
        let mut codes = Vec::new();
        loop {
            let (header, _) = self.frame().await;
            if header[0] != 0xFE {
                continue;
            }
            assert_eq!(header[1..5], op_id.to_le_bytes(), "ACK of another frame");
            codes.push(header[5]);
            if header[5] == 0x01 || codes.len() > 4 {
                return codes;
            }
        }
    }

    /// The code of the one ACK for `op_id` (other frames are skipped).
    async fn ack(&mut self, op_id: u32) -> u8 {
        loop {
            let (header, _) = self.frame().await;
            if header[0] == 0xFE {
                assert_eq!(header[1..5], op_id.to_le_bytes(), "ACK of another frame");
                return header[5];
            }
        }
    }
}

/// Makes the flood's patterns ~180 bytes, so the memory they hold stands out from the noise.
const PADDING: &str = "padding-padding-padding-padding-padding-padding-padding-padding-padding-\
                       padding-padding-padding-padding-padding-padding-padding-padding-padding-";

/// A publication to `topic` the subscriber `conn` must receive.
async fn expect_publication<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Raw<S>, topic: &str) {
    loop {
        let (header, body) = conn.frame().await;
        if header[0] == 0x01 {
            let mut fields = body.splitn(3, |&b| b == 0);
            let _sender = fields.next();
            if fields.next() == Some(topic.as_bytes()) {
                return;
            }
        }
    }
}

/// Names of tens of thousands of parts are refused with `72` over both transports, without the
/// broker holding on to anything; names at the bounds register, and cost about what their bytes
/// do however many parts they have. Before the bounds and the compressed name trie, a 64 KiB
/// name of 32,768 parts registered and cost the broker ~10 MB (157 times its size), kept after
/// the client left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_names_are_refused_and_cost_their_bytes() {
    let broker = elbusd(&[]);
    let _log = LogOnPanic(&broker);
    let bystander = Bystander::start(broker.unix_path().to_str().unwrap(), "bystander.names").await;
    let before = memory(&broker);
    let mut held = Vec::new();
    for round in 0..20 {
        for transport in Transport::ALL {
            let name = deep_name(&format!("h{round:02}"), 32_767);
            assert_eq!(name.len(), 65_535);
            let (conn, answer) = register(&broker, transport, name.as_bytes()).await;
            assert_eq!(
                answer,
                Some(ERR_DATA),
                "a 64 KiB name of 32k parts over {transport:?}"
            );
            held.push(conn);
        }
        if round == 10 {
            bystander.wait_rounds(2).await;
        }
    }
    let refused = memory(&broker);
    // Just over the bounds, each way.
    let too_long = format!("long.{}", "x".repeat(PathLimits::DEFAULT_MAX_BYTES - 4));
    let too_deep = deep_name("deep", PathLimits::DEFAULT_MAX_PARTS + 1);
    for name in [too_long, too_deep] {
        let (_conn, answer) = register(&broker, Transport::Unix, name.as_bytes()).await;
        assert_eq!(answer, Some(ERR_DATA), "{} bytes", name.len());
    }
    // At the bounds: 1 KiB of 128 parts, 400 distinct names kept connected.
    let mut at_bounds = Vec::new();
    for n in 0..400 {
        let mut name = format!("b{n:03}");
        name.push_str(&".a".repeat(PathLimits::DEFAULT_MAX_PARTS - 2));
        name.push('.');
        name.push_str(&"z".repeat(PathLimits::DEFAULT_MAX_BYTES - name.len()));
        assert_eq!(name.len(), PathLimits::DEFAULT_MAX_BYTES);
        let (conn, answer) = register(&broker, Transport::Unix, name.as_bytes()).await;
        assert_eq!(answer, Some(0x01), "a name at the bounds registers");
        at_bounds.push(conn);
    }
    bystander.wait_rounds(2).await;
    let connected = memory(&broker);
    drop(held);
    drop(at_bounds);
    bystander.wait_rounds(3).await;
    let after = memory(&broker);
    let per_client = connected.rss_kib.saturating_sub(refused.rss_kib) / 400;
    eprintln!(
        "before {before}; after 40 refused 64 KiB names {refused}; with 400 names of 1 KiB and \
         128 parts {connected} ({per_client} KiB per client); after they left {after}"
    );
    assert!(
        refused.rss_kib < before.rss_kib + 4 * 1024,
        "refused names cost memory: {before} -> {refused}"
    );
    // An idle connection costs ~8 KiB; a 1 KiB name must not add more than a few of its bytes'
    // worth (a per-part trie node of ~300 bytes made it ~45 KiB).
    assert!(
        per_client < 24,
        "{per_client} KiB per client with a name at the bounds"
    );
    bystander.finish().await;
}

/// A subscription of millions of levels (an 8 MiB frame), the same as a topic, a mask and an
/// exclusion, is refused with `72` without costing memory or stalling anyone; a pattern at the
/// bounds is subscribed and matches. Before the bounds, the deep subscription cost ~1 GiB,
/// blocked a worker for over a second and was never returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_topics_masks_and_patterns_are_refused() {
    let broker = elbusd(&[]);
    let _log = LogOnPanic(&broker);
    let bystander = Bystander::start(&broker.path(Transport::Tcp), "bystander.topics").await;
    let before = memory(&broker);
    let levels = "a/".repeat(4 << 20);
    let mask = "a.".repeat(4 << 20);
    for transport in Transport::ALL {
        let (mut conn, answer) = register(&broker, transport, b"deep.topics").await;
        assert_eq!(answer, Some(0x01));
        conn.send(1, SUBSCRIBE_ACKED, levels.as_bytes()).await;
        assert_eq!(
            conn.acks_until_ok(1).await,
            [ERR_DATA, 0x01],
            "deep subscription"
        );
        conn.send(2, EXCLUDE_ACKED, levels.as_bytes()).await;
        assert_eq!(
            conn.acks_until_ok(2).await,
            [ERR_DATA, 0x01],
            "deep exclusion"
        );
        let mut publish = levels.as_bytes().to_vec();
        publish.extend_from_slice(b"\0payload");
        conn.send(3, PUBLISH_ACKED, &publish).await;
        assert_eq!(conn.ack(3).await, ERR_DATA, "deep topic");
        let mut broadcast = mask.as_bytes().to_vec();
        broadcast.extend_from_slice(b"\0payload");
        conn.send(4, BROADCAST_ACKED, &broadcast).await;
        assert_eq!(conn.ack(4).await, ERR_DATA, "deep mask");
        bystander.wait_rounds(1).await;
    }
    let during = memory(&broker);
    // At the bounds: 128 parts, and 1 KiB.
    let mut subscriber = Raw::register(broker.unix_path(), "bounds.sub").await;
    let deepest = format!("{}x", "+/".repeat(PathLimits::DEFAULT_MAX_PARTS - 1));
    let longest = format!("long/{}", "y".repeat(PathLimits::DEFAULT_MAX_BYTES - 5));
    let body = format!("{deepest}\0{longest}");
    subscriber.send(1, SUBSCRIBE_ACKED, body.as_bytes()).await;
    assert_eq!(subscriber.ack().await[5], 0x01);
    let (mut publisher, _) = register(&broker, Transport::Tcp, b"bounds.pub").await;
    let topic = format!("{}x", "t/".repeat(PathLimits::DEFAULT_MAX_PARTS - 1));
    for (op_id, topic) in [(1, &topic), (2, &longest)] {
        let mut frame = topic.as_bytes().to_vec();
        frame.extend_from_slice(b"\0p");
        publisher.send(op_id, PUBLISH_ACKED, &frame).await;
        assert_eq!(publisher.ack(op_id).await, 0x01);
        expect_publication(&mut subscriber, topic).await;
    }
    let too_deep = format!("{}x", "+/".repeat(PathLimits::DEFAULT_MAX_PARTS));
    subscriber
        .send(2, SUBSCRIBE_ACKED, too_deep.as_bytes())
        .await;
    assert_eq!(subscriber.ack().await[5], ERR_DATA);
    assert_eq!(subscriber.ack().await[5], 0x01);
    bystander.wait_rounds(2).await;
    let after = memory(&broker);
    eprintln!("before {before}; after the deep frames {during}; after {after}");
    // The 8 MiB frames themselves pass through the read buffer; nothing else may stay.
    assert!(
        during.hwm_kib < before.rss_kib + 64 * 1024,
        "deep frames cost memory: {before} -> {during}"
    );
    bystander.finish().await;
}

/// One client subscribing far past the limit gets `74` for every pattern past it (the
/// automatic `.broker/warn` subscription counts), keeps what fit, and the memory it held goes
/// back when it leaves. Before the limit, 200,000 subscriptions cost ~196 MB, kept after close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_past_the_limit_are_refused() {
    let broker = elbusd(&[]);
    let _log = LogOnPanic(&broker);
    let bystander = Bystander::start(broker.unix_path().to_str().unwrap(), "bystander.subs").await;
    let before = memory(&broker);
    let limit = BrokerOptions::DEFAULT_MAX_SUBSCRIPTIONS;
    let mut flooder = Raw::register(broker.unix_path(), "flood.subs").await;
    let per_frame = 1000;
    let mut codes = Vec::new();
    for frame in 0..200u32 {
        let patterns: Vec<String> = (0..per_frame)
            .map(|n| format!("flood/{frame}/{n}/+/temp/{PADDING}"))
            .collect();
        flooder
            .send(frame + 1, SUBSCRIBE_ACKED, patterns.join("\0").as_bytes())
            .await;
        let mut frame_codes = Vec::new();
        loop {
            let code = flooder.ack().await[5];
            frame_codes.push(code);
            if code == 0x01 {
                break;
            }
        }
        codes.push(frame_codes);
        if frame == 100 {
            bystander.wait_rounds(2).await;
        }
    }
    // 9,999 fit besides `.broker/warn`: the first 9 frames whole, the 10th but its last.
    let full = limit / per_frame - 1;
    assert!(
        codes[..full].iter().all(|c| c == &[0x01]),
        "{:?}",
        &codes[..full]
    );
    assert!(codes[full..].iter().all(|c| c == &[ERR_OTHER, 0x01]));
    let held = memory(&broker);
    // Exclusions share the limit; unsubscribing makes room again.
    flooder.send(900, EXCLUDE_ACKED, b"x/#").await;
    assert_eq!(flooder.ack().await[5], ERR_OTHER);
    assert_eq!(flooder.ack().await[5], 0x01);
    let first = format!("flood/0/0/+/temp/{PADDING}");
    flooder.send(901, 0x43, first.as_bytes()).await;
    assert_eq!(flooder.ack().await[5], 0x01);
    flooder.send(902, EXCLUDE_ACKED, b"x/#").await;
    assert_eq!(flooder.ack().await[5], 0x01);
    // What fit still works.
    let mut publisher = Raw::register(broker.unix_path(), "flood.pub").await;
    let topic = format!("flood/3/7/kitchen/temp/{PADDING}");
    publisher
        .send(2, PUBLISH_ACKED, format!("{topic}\0hot").as_bytes())
        .await;
    assert_eq!(publisher.ack().await[5], 0x01);
    expect_publication(&mut flooder, &topic).await;
    // The `unreg` announcement is made once the flooder's state is gone.
    publisher.send(3, SUBSCRIBE_ACKED, b".broker/info").await;
    assert_eq!(publisher.ack().await[5], 0x01);
    drop(flooder);
    loop {
        let (header, body) = publisher.frame().await;
        let unreg = b"\xA5unreg\xA1d\xAAflood.subs";
        if header[0] == 0x01 && body.windows(unreg.len()).any(|w| w == unreg) {
            break;
        }
    }
    bystander.wait_rounds(2).await;
    let after = memory(&broker);
    eprintln!("before {before}; holding {limit} subscriptions {held}; after it left {after}");
    assert!(
        held.rss_kib < before.rss_kib + 16 * 1024,
        "{limit} subscriptions: {before} -> {held}"
    );
    // Most of it goes back to the system (glibc keeps freed memory unless trimmed).
    let grown = held.rss_kib - before.rss_kib;
    assert!(
        after.rss_kib < held.rss_kib - grown / 2,
        "not given back: {before} -> {held} -> {after}"
    );
    bystander.finish().await;
}

/// A subscribe-family frame of millions of (empty) patterns is cut at the per-client limit
/// before anything is looked up: the patterns past it get `74`, the broker stays responsive.
/// Before the cap, a 60 MiB frame of NULs kept a worker busy for 6-8 s (test profile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_of_millions_of_patterns_are_cut_at_the_limit() {
    let broker = elbusd(&[]);
    let _log = LogOnPanic(&broker);
    let bystander = Bystander::start(broker.unix_path().to_str().unwrap(), "by.nuls").await;
    let nuls = vec![0u8; 32 << 20];
    let (mut conn, answer) = register(&broker, Transport::Tcp, b"nul.flood").await;
    assert_eq!(answer, Some(0x01));
    for (op_id, flags) in [
        (1, SUBSCRIBE_ACKED),
        (2, 0x43),
        (3, EXCLUDE_ACKED),
        (4, 0x45),
    ] {
        conn.send(op_id, flags, &nuls).await;
        assert_eq!(
            conn.acks_until_ok(op_id).await,
            [ERR_OTHER, 0x01],
            "flags {flags:02X}"
        );
        bystander.wait_rounds(1).await;
    }
    bystander.finish().await;
}

/// A name with a NUL (`app.admin\0x`), a control character or an invisible character is
/// refused with `72` over both transports, as a primary and as a secondary, so no peer can be
/// shown another client's name; the names the published clients use still register.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_nul_or_control_characters_are_refused() {
    let broker = elbusd(&[]);
    let _log = LogOnPanic(&broker);
    let bystander = Bystander::start(broker.unix_path().to_str().unwrap(), "bystander.nul").await;
    let (mut watcher, answer) = register(&broker, Transport::Unix, b"app.watcher").await;
    assert_eq!(answer, Some(0x01));
    let hostile: [&[u8]; 9] = [
        b"app.admin\0x",
        b"app.admin\0",
        b"\0app.admin",
        b"app.watcher%%\0x",
        b"app.admin\nINFO forged line",
        b"app.admin\x1b[8m",
        b"app.admin\x7f",
        "app.admin\u{200B}".as_bytes(),
        "app.\u{202E}nimda".as_bytes(),
    ];
    for name in hostile {
        for transport in Transport::ALL {
            let (_conn, answer) = register(&broker, transport, name).await;
            assert_eq!(
                answer,
                Some(ERR_DATA),
                "{:?} over {transport:?}",
                String::from_utf8_lossy(name)
            );
        }
    }
    bystander.wait_rounds(1).await;
    // What published clients legitimately register still does.
    let legit: [&str; 9] = [
        "app.admin",
        "app.admin%%0",
        "app.admin%%",
        "a..b",
        "a.",
        "with space",
        "wild.*.?",
        "датчик.1",
        "x/y:z@host",
    ];
    let mut kept = Vec::new();
    for name in legit {
        let (conn, answer) = register(&broker, Transport::Tcp, name.as_bytes()).await;
        assert_eq!(answer, Some(0x01), "{name}");
        kept.push(conn);
    }
    // The watcher sees the real name of a sender.
    let (mut conn, _) = register(&broker, Transport::Unix, b"app.sender").await;
    conn.send(1, 0x52, b"app.watcher\0hi").await;
    assert_eq!(conn.ack(1).await, 0x01);
    let (header, body) = watcher.frame().await;
    assert_eq!(header[0], 0x12);
    assert_eq!(body, b"app.sender\0hi");
    bystander.finish().await;
}

/// The impersonation of the issue, as a second uid: with `app.admin` reserved for this uid and
/// an open `app.*` rule, `nobody` cannot register `app.admin\0x` (which every peer library
/// would show as `app.admin`), while it still may register `app.guest`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_cannot_impersonate_a_uid_protected_name_through_nul() {
    let dir = elbus_suite::tempdir::TempDir::new("names-acl");
    let uid = std::fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta))
        .unwrap();
    let acl = dir.join("acl.toml");
    std::fs::write(
        &acl,
        format!(
            "[[client]]\nname = \"app.admin\"\nuids = [{uid}]\nnetworks = []\n\n\
             [[client]]\nname = \"app.*\"\n"
        ),
    )
    .unwrap();
    let broker = elbusd(&["--socket-mode", "666", "--acl", acl.to_str().unwrap()]);
    let socket_dir = broker.unix_path().parent().unwrap();
    std::fs::set_permissions(
        socket_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bystander = Bystander::start(broker.unix_path().to_str().unwrap(), "app.bystander").await;
    let answers = as_nobody(
        broker.unix_path(),
        &[b"app.admin\0x", b"app.guest", b"app.admin"],
    );
    bystander.wait_rounds(1).await;
    assert_eq!(
        answers,
        ["72", "01", "79"],
        "app.admin\\0x, app.guest, app.admin"
    );
    bystander.finish().await;
}

/// Registers each name in turn (a fresh connection each) as `nobody`, with the system python
/// and no library; returns the registration answers in hex.
fn as_nobody(path: &Path, names: &[&[u8]]) -> Vec<String> {
    const SCRIPT: &str = r#"
import socket, sys
for hexname in sys.argv[2:]:
    name = bytes.fromhex(hexname)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.sendall(s.recv(3))
    s.recv(1)
    s.sendall(len(name).to_bytes(2, "little") + name)
    answer = s.recv(1)
    print(answer.hex() if answer else "eof", flush=True)
    s.close()
"#;
    let hex: Vec<String> = names
        .iter()
        .map(|name| name.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let mut child = elbus_suite::second_uid::python(true)
        .args(["-c", SCRIPT])
        .arg(path)
        .args(&hex)
        .stdout(Stdio::piped())
        .spawn()
        .expect("setpriv python3");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "the nobody client failed: {out}"
    );
    out.lines().map(str::to_owned).collect()
}

/// In-process clients are held to the same rules: no NUL or control character in a name, no
/// NUL in a topic (it would cut the topic a socket subscriber sees), and the size bounds.
#[tokio::test]
async fn in_process_clients_cannot_put_nul_into_frames() {
    let broker = Embedded::new();
    for name in ["app.admin\0x", "app\nx", &deep_name("d", 200)] {
        let err = broker.register_client(name).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Data, "{name:?}");
    }
    let client = broker.register_client(".svc").unwrap();
    let err = client
        .publish("a\0b", b"x", QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Data);
    let err = client
        .subscribe(&"+/".repeat(200), QoS::Processed)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Data);
    client.subscribe("a/+", QoS::Processed).await.unwrap();
}

/// The bounds are `elbusd` options; a zero is a clear start-up error, not a bus that refuses
/// everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_follow_the_elbusd_options() {
    let broker = elbusd(&[
        "--max-name-bytes",
        "16",
        "--max-topic-bytes",
        "2048",
        "--max-parts",
        "4",
        "--max-subscriptions",
        "3",
    ]);
    let _log = LogOnPanic(&broker);
    let bystander = Bystander::start(broker.unix_path().to_str().unwrap(), "by.opts").await;
    for (name, answer) in [
        ("a.b.c.d", 0x01),
        ("a.b.c.d.e", ERR_DATA),
        ("sixteen.bytes.ok", 0x01),
        ("seventeen.bytes.x", ERR_DATA),
    ] {
        let (_conn, got) = register(&broker, Transport::Tcp, name.as_bytes()).await;
        assert_eq!(got, Some(answer), "{name}");
    }
    let mut client = Raw::register(broker.unix_path(), "opts.sub").await;
    let long = format!("t/{}", "x".repeat(1500));
    client
        .send(
            1,
            SUBSCRIBE_ACKED,
            format!("{long}\0a/b/c/d\0a/b/c/e").as_bytes(),
        )
        .await;
    assert_eq!(
        client.ack().await[5],
        ERR_OTHER,
        "the third pattern is past 3"
    );
    assert_eq!(client.ack().await[5], 0x01);
    client.send(2, SUBSCRIBE_ACKED, b"a/b/c/d/e").await;
    assert_eq!(client.ack().await[5], ERR_DATA, "five parts");
    assert_eq!(client.ack().await[5], 0x01);
    bystander.wait_rounds(1).await;
    bystander.finish().await;
    for option in [
        "--max-name-bytes",
        "--max-topic-bytes",
        "--max-parts",
        "--max-subscriptions",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_elbusd"))
            .args(["-B", "/nonexistent/never.sock", option, "0"])
            .output()
            .expect("elbusd runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{option} 0 accepted");
        assert!(
            stderr.contains(option) && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}
