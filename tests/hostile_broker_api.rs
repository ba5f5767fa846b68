//! Hostile use of the broker's own API against the real `elbusd`: with a few thousand clients
//! connected, a burst of `client.list` calls (whose cost grows with the clients) from a caller
//! that leaves at once, and from one that stays and never reads its replies. A
//! [`Bystander`] keeps round-tripping (a message to itself and a `.broker` `test` call) through
//! both attacks; the burst's queued work must end with its caller (`.broker` `stats`:
//! `api_calls_refused`, `api_calls_abandoned`), and a well-behaved `client.list` caller must
//! still get its answer.

use elbus::broker_api::MAX_QUEUED_CALLS_PER_CALLER;
use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::bystander::Bystander;
use elbus_suite::procstat;
use elbus_suite::raw::{request, Raw, MESSAGE_ACKED, WAIT};
use std::path::Path;
use tokio::net::UnixStream;

/// Idle clients connected during the attacks: `client.list` answers one entry per client.
const IDLE_CLIENTS: usize = 2000;
/// `client.list` calls in one burst (about 340 KB of frames).
const BURST: u32 = 10_000;
/// Flags of a one-to-one message with QoS 0 (no ACK).
const MESSAGE_NO_ACK: u8 = 0x12;

/// The body of a message to `.broker` carrying an RPC request (`01`, call id, method, NUL,
/// params).
fn broker_call(call_id: u32, method: &str, params: &[u8]) -> Vec<u8> {
    let mut body = b".broker\0\x01".to_vec();
    body.extend_from_slice(&call_id.to_le_bytes());
    body.extend_from_slice(method.as_bytes());
    body.push(0);
    body.extend_from_slice(params);
    body
}

/// Checks that this process may open enough sockets for the idle clients.
fn assert_fd_limit() {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    let soft: u64 = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(u64::MAX);
    let need = IDLE_CLIENTS as u64 + 200;
    assert!(
        soft >= need,
        "this test opens {need} sockets but `ulimit -n` is {soft}: raise it"
    );
}

/// Starts elbusd (idle clients are never dropped) and connects the idle clients.
async fn crowded_broker() -> (Broker, Vec<Raw<UnixStream>>) {
    assert_fd_limit();
    let broker = Broker::start_with_args(
        &BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")),
        &["--idle-timeout", "0"],
    );
    let mut idle = Vec::with_capacity(IDLE_CLIENTS);
    for n in 0..IDLE_CLIENTS {
        idle.push(Raw::register(broker.unix_path(), &format!("idle.c{n}")).await);
    }
    (broker, idle)
}

/// Calls `.broker` `method` over `raw` and returns the decoded result (skipping anything else).
async fn call(raw: &mut Raw<UnixStream>, call_id: u32, method: &str) -> rmpv::Value {
    raw.send(call_id, MESSAGE_ACKED, &broker_call(call_id, method, b""))
        .await;
    let id = call_id.to_le_bytes();
    let reply: Vec<u8> = [&[0x11][..], &id].concat();
    let error: Vec<u8> = [&[0x12][..], &id].concat();
    loop {
        let (header, body) = raw.frame().await;
        let Some(payload) = body.strip_prefix(b".broker\0") else {
            continue;
        };
        if header[0] != 0x12 {
            continue;
        }
        assert!(
            !payload.starts_with(&error),
            "{method} failed: {payload:02X?}"
        );
        if let Some(result) = payload.strip_prefix(&reply[..]) {
            return rmp_serde::from_slice(result).expect("a MessagePack result");
        }
    }
}

/// The `stats` counters of the `.broker` scheduler: (refused, abandoned).
async fn scheduler_counters(raw: &mut Raw<UnixStream>, call_id: u32) -> (u64, u64) {
    let stats = call(raw, call_id, "stats").await;
    let counter = |key: &str| {
        stats[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key} in .broker stats: {stats}"))
    };
    (counter("api_calls_refused"), counter("api_calls_abandoned"))
}

/// CPU time of process `pid` so far (utime + stime), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Sends `BURST` `client.list` calls with call ids from `first_id` (0: no reply wanted) in one
/// write.
async fn burst(raw: &mut Raw<UnixStream>, first_id: u32) {
    let mut frames = Vec::new();
    for n in 0..BURST {
        let call_id = if first_id == 0 { 0 } else { first_id + n };
        frames.extend(request(
            n + 1,
            MESSAGE_NO_ACK,
            &broker_call(call_id, "client.list", b""),
        ));
    }
    // A caller drowning in its own unread replies may be cut off mid-burst: fine here.
    raw.write_lossy(&frames).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_list_burst_from_a_caller_that_leaves_ends_with_it() {
    let (broker, idle) = crowded_broker().await;
    let unix = broker.path(Transport::Unix);
    let bystander = Bystander::start(&unix, "api.bystander").await;
    bystander.wait_rounds(1).await;
    let before = cpu_ticks(broker.pid());
    let mut attacker = Raw::register(Path::new(&unix), "api.leaver").await;
    burst(&mut attacker, 0).await;
    drop(attacker);
    bystander.wait_rounds(3).await;
    // Every call of the burst is refused or dropped unrun but a few: the work ends with the
    // caller instead of running BURST lists of every client.
    let mut probe = Raw::register(Path::new(&unix), "api.probe").await;
    let settled = u64::from(BURST) - u64::from(BURST) / 10;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut call_id = 1;
    let (refused, abandoned) = loop {
        let (refused, abandoned) = scheduler_counters(&mut probe, call_id).await;
        call_id += 1;
        if refused + abandoned >= settled {
            break (refused, abandoned);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the burst's calls are still being run: {refused} refused, {abandoned} abandoned \
             of {BURST}"
        );
        // Polling a counter: no event tells when the broker has worked through its queue.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    bystander.wait_rounds(3).await;
    let report = bystander.finish().await;
    eprintln!(
        "{BURST} client.list calls with {IDLE_CLIENTS} clients: {refused} refused, {abandoned} \
         abandoned (at most {MAX_QUEUED_CALLS_PER_CALLER} queued per caller); broker CPU {} \
         ticks from the burst to the end; bystander slowest round {:?}; {}",
        cpu_ticks(broker.pid()) - before,
        report.slowest,
        procstat::memory(broker.pid())
    );
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_never_reads_its_client_lists_holds_up_nobody() {
    let (broker, idle) = crowded_broker().await;
    let unix = broker.path(Transport::Unix);
    let bystander = Bystander::start(&unix, "api.bystander").await;
    bystander.wait_rounds(1).await;
    let mut attacker = Raw::register(Path::new(&unix), "api.hog").await;
    burst(&mut attacker, 1).await;
    // A well-behaved caller gets its full list, in turn with the hog's queued calls.
    let mut lister = Raw::register(Path::new(&unix), "api.lister").await;
    for call_id in 1..=3 {
        let list = call(&mut lister, call_id, "client.list").await;
        let clients = list["clients"].as_array().expect("a client list").len();
        assert!(clients > IDLE_CLIENTS, "only {clients} clients listed");
        bystander.wait_rounds(1).await;
    }
    let (refused, _) = scheduler_counters(&mut lister, 100).await;
    assert!(refused > 0, "none of the hog's {BURST} calls was refused");
    bystander.wait_rounds(2).await;
    bystander.finish().await;
    eprintln!("hog: {refused} of {BURST} calls refused");
    drop(attacker);
    drop(idle);
}
