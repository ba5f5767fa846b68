//! Federation benchmark (issue #18): what the elbus bridge over NATS costs against the same
//! traffic sent directly over NATS, measured in one run on one nats-server.
//!
//! ```text
//! bench/federation.sh                                    # release build, the defaults
//! cargo bench --bench federation -- --rounds 3 --messages 200000 --calls 5000
//! ```
//!
//! Two scenarios, each against elbus (two `elbusd --federation` nodes `a` and `b` on the same
//! nats-server) and raw NATS (two `async-nats` clients on it), alternating every round:
//!
//! * **RPC round trip**: a client on node `a` calls `bench.echo@b`, which answers with the
//!   payload; raw: `request` to a subject a second client answers. One call at a time; the
//!   median of the round trips.
//! * **Publish throughput**: a publisher on `a` publishes to `fed/bench`, a subscriber on `b`
//!   counts; raw: publish / subscribe between two clients. The publisher keeps at most
//!   `--window` messages ahead of what the subscriber has counted (the same end-to-end window
//!   for both, so neither overruns a queue), and the measurement ends when the last message has
//!   been counted (awaited, not slept on).
//!
//! The table gives per-path medians over the rounds and the elbus / raw ratios, then the CPU
//! time each process spent per publication in the publish scenario (`/proc/PID/stat` before
//! and after it): both `elbusd`, the nats-server, and this process, which runs the clients of
//! both paths. Publish throughput on a small machine is bound by the sum of these: the bridged
//! path runs five processes' work on the cores where the raw path runs three.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use elbus::ipc::{Client, Config};
use elbus::rpc::{DummyHandlers, RpcClient, RpcError, RpcEvent, RpcHandlers, RpcResult};
use elbus::{AsyncClient, FrameKind, QoS};
use elbus_suite::broker::{workspace_binary, Broker, BrokerKind};
use elbus_suite::federation::status;
use elbus_suite::nats::NatsServer;
use elbus_suite::procstat;
use futures_util::StreamExt;
use tokio::sync::watch;

/// Command-line options of the federation benchmark.
#[derive(Debug, Parser)]
#[command(about = "Federation benchmark: elbus over NATS against raw NATS")]
struct Args {
    /// Rounds; each runs both scenarios over elbus, then over raw NATS.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Sequential RPC calls a round.
    #[arg(long, default_value_t = 5_000)]
    calls: usize,
    /// Publications a round.
    #[arg(long, default_value_t = 200_000)]
    messages: u64,
    /// Payload bytes of every call and publication.
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Most publications ahead of the subscriber's count.
    #[arg(long, default_value_t = 4_096)]
    window: u64,
    /// The elbusd binary (default: the workspace's release build, else its debug build).
    #[arg(long)]
    elbusd: Option<PathBuf>,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One round's numbers of one path.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// Median RPC round trip, microseconds.
    rtt_us: f64,
    /// Publications counted by the subscriber per second.
    rate: f64,
    /// CPU microseconds per publication of each of [`Processes`], in its order.
    cpu_us: [f64; PROCESSES],
}

/// How many processes [`Processes`] watches.
const PROCESSES: usize = 4;

/// The processes whose CPU time the publish scenario reads: `elbusd` a and b, the
/// nats-server, and this benchmark (all the clients).
#[derive(Debug, Clone, Copy)]
struct Processes {
    pids: [u32; PROCESSES],
}

impl Processes {
    const LABELS: [&'static str; PROCESSES] = ["elbusd a", "elbusd b", "nats-server", "clients"];

    /// The CPU time of each process so far.
    fn cpu(&self) -> [Duration; PROCESSES] {
        self.pids.map(procstat::cpu_time)
    }

    /// CPU microseconds per message of each process since `before`.
    fn per_message(&self, before: &[Duration; PROCESSES], messages: u64) -> [f64; PROCESSES] {
        let after = self.cpu();
        std::array::from_fn(|i| {
            after[i].saturating_sub(before[i]).as_secs_f64() * 1e6 / messages.max(1) as f64
        })
    }
}

/// Answers `echo` with its payload.
struct Echo;

impl RpcHandlers for Echo {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        match event.parse_method()? {
            "echo" => Ok(Some(event.payload().to_vec())),
            _ => Err(RpcError::method(None)),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let Some(elbusd) = args.elbusd.clone().or_else(|| workspace_binary("elbusd")) else {
        eprintln!("no elbusd: build it (cargo build --release --bin elbusd) or pass --elbusd");
        return ExitCode::FAILURE;
    };
    let nats = NatsServer::start();
    let kind = BrokerKind::elbusd(&elbusd);
    let node_args = |name: &'static str| {
        let url = nats.url();
        let mut args = vec![
            "--federation".to_owned(),
            url,
            "--node".to_owned(),
            name.to_owned(),
            "--federation-export".to_owned(),
            "fed/#".to_owned(),
            "--federation-import".to_owned(),
            "fed/#".to_owned(),
        ];
        args.extend(["-w".to_owned(), "2".to_owned()]);
        args
    };
    let start = |name: &'static str| {
        let args = node_args(name);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Broker::start_with_args(&kind, &refs)
    };
    let a = start("a");
    let b = start("b");
    println!(
        "elbusd {} on nats-server {}; {} rounds, {} calls, {} publications of {} bytes, window {}",
        elbusd.display(),
        nats.url(),
        args.rounds,
        args.calls,
        args.messages,
        args.payload,
        args.window
    );
    let payload = vec![0x5a_u8; args.payload];
    let processes = Processes {
        pids: [a.pid(), b.pid(), nats.pid(), std::process::id()],
    };
    let mut bridged = Vec::new();
    let mut raw = Vec::new();
    for round in 1..=args.rounds {
        // A lost round (frames lost under a loaded machine, say) is reported and skipped.
        let e = match elbus_round(&a, &b, &args, &payload, processes).await {
            Ok(sample) => sample,
            Err(err) => {
                eprintln!("elbus round {round} skipped: {err}");
                continue;
            }
        };
        let r = match raw_round(&nats.url(), &args, &payload, processes).await {
            Ok(sample) => sample,
            Err(err) => {
                eprintln!("raw NATS round {round} skipped: {err}");
                continue;
            }
        };
        println!(
            "round {round}: rtt elbus {:.1} us, raw {:.1} us; publish elbus {:.0}/s, raw {:.0}/s",
            e.rtt_us, r.rtt_us, e.rate, r.rate
        );
        bridged.push(e);
        raw.push(r);
    }
    if bridged.is_empty() {
        eprintln!("no round completed");
        return ExitCode::FAILURE;
    }
    let (e_rtt, r_rtt) = (
        median_of(&bridged, |s| s.rtt_us),
        median_of(&raw, |s| s.rtt_us),
    );
    let (e_rate, r_rate) = (median_of(&bridged, |s| s.rate), median_of(&raw, |s| s.rate));
    println!();
    println!("| scenario | elbus a -> b | raw NATS | elbus / raw |");
    println!("|---|---|---|---|");
    println!(
        "| RPC round trip (median) | {e_rtt:.1} us | {r_rtt:.1} us | {:.2}x |",
        e_rtt / r_rtt
    );
    println!(
        "| publish throughput | {e_rate:.0} msg/s | {r_rate:.0} msg/s | {:.2}x |",
        e_rate / r_rate
    );
    println!();
    println!(
        "CPU microseconds per publication (medians; the clients of both paths run in this process):"
    );
    println!();
    println!("| path | {} | total |", Processes::LABELS.join(" | "));
    println!("|---|{}---|", "---|".repeat(PROCESSES));
    for (label, samples) in [("elbus a -> b", &bridged), ("raw NATS", &raw)] {
        let cells: Vec<f64> = (0..PROCESSES)
            .map(|i| median_of(samples, |s| s.cpu_us[i]))
            .collect();
        let total: f64 = cells.iter().sum();
        let cells: Vec<String> = cells.iter().map(|us| format!("{us:.2}")).collect();
        println!("| {label} | {} | {total:.2} |", cells.join(" | "));
    }
    ExitCode::SUCCESS
}

async fn connect(broker: &Broker, name: &str) -> Result<Client, String> {
    let path = broker.unix_path().to_str().unwrap_or_default().to_owned();
    // Pings keep a client that only listens (the subscriber) within the broker's idle limit.
    let config = Config::new(&path, name)
        .timeout(Duration::from_secs(10))
        .ping_interval(Some(Duration::from_secs(1)));
    Client::connect(&config)
        .await
        .map_err(|err| format!("{name}: {err}"))
}

/// Both scenarios over the bridge, on fresh clients.
async fn elbus_round(
    a: &Broker,
    b: &Broker,
    args: &Args,
    payload: &[u8],
    processes: Processes,
) -> Result<Sample, String> {
    let _echo = RpcClient::new(connect(b, "bench.echo").await?, Echo).map_err(|e| e.to_string())?;
    let caller = RpcClient::new(connect(a, "bench.caller").await?, DummyHandlers)
        .map_err(|e| e.to_string())?;
    // Node b is up once a call reaches it; warm the path up too.
    let deadline = Instant::now() + Duration::from_secs(10);
    while caller
        .call("bench.echo@b", "echo", payload, QoS::Processed)
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return Err("bench.echo@b never answered".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut rtts = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let started = Instant::now();
        caller
            .call("bench.echo@b", "echo", payload, QoS::Processed)
            .await
            .map_err(|err| format!("call: {err:?}"))?;
        rtts.push(started.elapsed());
    }

    let subscriber = connect(b, "bench.sub").await?;
    subscriber
        .subscribe("fed/bench", QoS::Processed)
        .await
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let mut events = subscriber.take_event_channel().ok_or("no event channel")?;
    let publisher = connect(a, "bench.pub").await?;
    // The import is held once b sees the interest: wait until a probe arrives.
    let probe_deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publisher
            .publish("fed/bench", b"probe", QoS::Processed)
            .await
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_millis(100), events.recv()).await {
            Ok(Some(frame)) if frame.kind() == FrameKind::Publish => break,
            Ok(None) => return Err("the subscriber's connection closed".into()),
            _ if Instant::now() > probe_deadline => return Err("no import after 10 s".into()),
            _ => {}
        }
    }
    // Late probes still in flight are counted as messages: publish a marker first and skip
    // everything before it.
    publisher
        .publish("fed/bench", b"start", QoS::Processed)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match events.recv().await {
            Some(frame) if frame.payload() == b"start" => break,
            Some(_) => {}
            None => return Err("the subscriber's connection closed".into()),
        }
    }
    let (count_tx, count_rx) = watch::channel(0_u64);
    let total = args.messages;
    let counter = tokio::spawn(async move {
        let mut seen = 0;
        while seen < total {
            match events.recv().await {
                Some(frame) if frame.kind() == FrameKind::Publish => {
                    seen += 1;
                    count_tx.send_replace(seen);
                }
                Some(_) => {}
                None => break,
            }
        }
        seen
    });
    let cpu_before = processes.cpu();
    let started = Instant::now();
    let mut progress = count_rx;
    for sent in 0..total {
        if sent >= args.window {
            let floor = sent - args.window;
            let _ = progress.wait_for(|seen| *seen > floor).await;
        }
        publisher
            .publish("fed/bench", payload, QoS::No)
            .await
            .map_err(|e| e.to_string())?;
    }
    let seen = tokio::time::timeout(Duration::from_secs(20), counter)
        .await
        .map_err(|_| "the subscriber stopped counting (frames lost?)".to_owned())?
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    let cpu_us = processes.per_message(&cpu_before, total);
    if seen < total {
        let (sa, sb) = (status(a.unix_path()).await, status(b.unix_path()).await);
        return Err(format!(
            "{seen} of {total} publications arrived (a: exported {} dropped {}; b: imported {})",
            sa.exported, sa.dropped, sb.imported
        ));
    }
    Ok(Sample {
        rtt_us: median_us(&mut rtts),
        rate: total as f64 / elapsed.as_secs_f64(),
        cpu_us,
    })
}

/// Both scenarios directly over NATS, on fresh clients.
async fn raw_round(
    url: &str,
    args: &Args,
    payload: &[u8],
    processes: Processes,
) -> Result<Sample, String> {
    let nats = |name: &'static str| async move {
        async_nats::ConnectOptions::new()
            .name(name)
            .connect(url)
            .await
            .map_err(|err| format!("{name}: {err}"))
    };
    let requester = nats("bench-requester").await?;
    let responder = nats("bench-responder").await?;
    let mut requests = responder
        .subscribe("bench.rtt")
        .await
        .map_err(|e| e.to_string())?;
    responder.flush().await.map_err(|e| e.to_string())?;
    let answering = responder.clone();
    let answer = tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            if let Some(reply) = msg.reply {
                let _ = answering.publish(reply, msg.payload).await;
            }
        }
    });
    let bytes = bytes::Bytes::copy_from_slice(payload);
    // A flush means "written", not "seen by the server": the first requests may find no
    // responder yet. Retry until one is answered.
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(err) = requester.request("bench.rtt", bytes.clone()).await {
        if Instant::now() > deadline {
            return Err(format!("request: {err}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut rtts = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let started = Instant::now();
        requester
            .request("bench.rtt", bytes.clone())
            .await
            .map_err(|e| format!("request: {e}"))?;
        rtts.push(started.elapsed());
    }
    answer.abort();

    let mut sub = responder
        .subscribe("bench.pub")
        .await
        .map_err(|e| e.to_string())?;
    // Probe until the subscription is in place at the server, then skip to a start marker.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        requester
            .publish("bench.pub", "probe".into())
            .await
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            Ok(Some(_)) => break,
            Ok(None) => return Err("the subscription ended".into()),
            Err(_) if Instant::now() > deadline => return Err("no subscription after 10 s".into()),
            Err(_) => {}
        }
    }
    requester
        .publish("bench.pub", "start".into())
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match sub.next().await {
            Some(msg) if msg.payload.as_ref() == b"start" => break,
            Some(_) => {}
            None => return Err("the subscription ended".into()),
        }
    }
    let (count_tx, count_rx) = watch::channel(0_u64);
    let total = args.messages;
    let counter = tokio::spawn(async move {
        let mut seen = 0;
        while seen < total {
            if sub.next().await.is_none() {
                break;
            }
            seen += 1;
            count_tx.send_replace(seen);
        }
        seen
    });
    let cpu_before = processes.cpu();
    let started = Instant::now();
    let mut progress = count_rx;
    for sent in 0..total {
        if sent >= args.window {
            let floor = sent - args.window;
            let _ = progress.wait_for(|seen| *seen > floor).await;
        }
        requester
            .publish("bench.pub", bytes.clone())
            .await
            .map_err(|e| e.to_string())?;
    }
    let seen = tokio::time::timeout(Duration::from_secs(20), counter)
        .await
        .map_err(|_| "the subscriber stopped counting (slow consumer?)".to_owned())?
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    let cpu_us = processes.per_message(&cpu_before, total);
    if seen < total {
        return Err(format!("{seen} of {total} publications arrived"));
    }
    Ok(Sample {
        rtt_us: median_us(&mut rtts),
        rate: total as f64 / elapsed.as_secs_f64(),
        cpu_us,
    })
}

/// The median of `f` over `samples` (not empty).
fn median_of(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    let mut values: Vec<f64> = samples.iter().map(f).collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn median_us(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}
