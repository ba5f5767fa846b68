//! Operator input and lifecycle of the real `elbusd` binary: every bad option value is one clear
//! line on stderr and a non-zero exit (never a panic); brokers started at the same instant on
//! one socket or FIFO path leave exactly one running, and only the owner ever removes the
//! path; SIGHUP without `--acl` is logged and ignored. The embedded broker refuses the same bad
//! settings with an error and guards its paths the same way.
//!
//! Cases with a running broker keep a [`Bystander`] round-tripping through it while the hostile
//! starts happen.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use elbus::broker::{Broker as Embedded, BrokerOptions, QueueLimits, ServerConfig};
use elbus::{AsyncClient, QoS};
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::bystander::Bystander;
use elbus_suite::raw::{Raw, WAIT};
use elbus_suite::tempdir::TempDir;

const ELBUSD: &str = env!("CARGO_BIN_EXE_elbusd");
/// The line `elbusd` prints once every listener is bound.
const READY: &str = "elbus broker started";
/// What a broker that lost a path to another one says (the lock holder's or a live socket's).
const PATH_TAKEN: &str = "another process is listening";

/// Runs elbusd with `args` to its exit (bounded by [`WAIT`]); returns the status, stdout and
/// stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String, String) {
    let child = Command::new(ELBUSD)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("elbusd starts");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("elbusd {args:?} kept running instead of refusing"))
        .expect("elbusd output");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_bad_option_value_is_one_line_on_stderr_and_a_non_zero_exit() {
    let dir = TempDir::new("opts");
    let socket = dir.join("bus.sock");
    let socket = socket.to_str().unwrap();
    let long_path = format!("{}/{}.sock", dir.path().display(), "x".repeat(110));
    let cases: Vec<Vec<&str>> = vec![
        vec!["-t", "inf"],
        vec!["-t", "18446744073709551615"],
        vec!["-t", "nan"],
        vec!["-t", "0"],
        vec!["--timeout", "86401"],
        vec!["--idle-timeout", "inf"],
        vec!["--idle-timeout", "1e300"],
        vec!["--idle-timeout", "-5"],
        vec!["--buf-size", "18446744073709551615"],
        vec!["--buf-size", "100000000000"],
        vec!["--buf-size", "1"],
        vec!["--queue-size", "0"],
        vec!["--queue-bytes", "0"],
        vec!["--max-frame-size", "0"],
        vec!["--max-frame-size", "4294967296"],
        vec!["-w", "0"],
        vec!["-w", "100000"],
        vec!["--busy-poll", "18446744073709551615"],
        vec!["--socket-mode", "9999"],
        vec!["--socket-mode", "4777"],
        vec!["--socket-group", "no-such-group-elbus"],
        vec!["--overflow", "sometimes"],
        vec!["-B", &long_path],
        vec!["-B", "not-an-address"],
        vec!["-B", "fifo:"],
        vec!["--no-such-option"],
    ];
    for case in &cases {
        let mut args = vec!["-B", socket];
        args.extend_from_slice(case);
        let (status, stdout, stderr) = run_to_exit(&args);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(
            !status.success() && status.code().is_some(),
            "{case:?}: exited {status:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stdout.contains("panicked"),
            "{case:?} panicked:\n{stderr}"
        );
        assert_eq!(
            lines.len(),
            1,
            "{case:?}: expected one line on stderr, got:\n{stderr}"
        );
        assert!(
            lines[0].starts_with("elbusd: error: "),
            "{case:?}: {stderr}"
        );
        assert!(
            !stdout.contains(READY),
            "{case:?} started a broker:\n{stdout}"
        );
    }
    assert!(!Path::new(socket).exists(), "a refused start left a socket");
    assert!(!Path::new(&long_path).exists());
    // The bounds themselves are accepted.
    let (status, stdout, stderr) = run_to_exit(&[
        "-B",
        "not-an-address",
        "-t",
        "86400",
        "--idle-timeout",
        "0",
        "--buf-size",
        "512",
        "--queue-size",
        "1",
        "--queue-bytes",
        "4096",
        "--max-frame-size",
        "256",
        "--busy-poll",
        "1000000",
        "--socket-mode",
        "777",
    ]);
    assert!(!status.success());
    assert!(
        stderr.contains("invalid bind address") && !stderr.contains("--"),
        "only the bind address should be refused:\n{stdout}{stderr}"
    );
}

#[tokio::test]
async fn the_embedded_broker_refuses_bad_settings_with_an_error() {
    let dir = TempDir::new("embedded-opts");
    let broker = Embedded::new();
    let bad_configs = [
        ServerConfig::new().buf_size(usize::MAX),
        ServerConfig::new().buf_size(0),
        ServerConfig::new().timeout(Duration::MAX),
        ServerConfig::new().timeout(Duration::ZERO),
        ServerConfig::new().idle_timeout(Some(Duration::MAX)),
        ServerConfig::new().max_frame_size(0),
        ServerConfig::new().unix_mode(Some(0o4777)),
        ServerConfig::new().queue(QueueLimits {
            max_frames: 0,
            ..QueueLimits::default()
        }),
        ServerConfig::new().queue(QueueLimits {
            max_bytes: 0,
            ..QueueLimits::default()
        }),
    ];
    for (n, config) in bad_configs.into_iter().enumerate() {
        let path = dir.join(&format!("bad{n}.sock"));
        let err = broker
            .spawn_unix_server(&path, config.clone())
            .await
            .expect_err("a bad setting is refused");
        assert_eq!(err.kind(), elbus::ErrorKind::Data, "{err}");
        assert!(err.to_string().contains("invalid"), "{err}");
        assert!(!path.exists());
        let err = broker
            .spawn_tcp_server("127.0.0.1:0", config)
            .await
            .expect_err("a bad setting is refused over TCP too");
        assert_eq!(err.kind(), elbus::ErrorKind::Data, "{err}");
    }
    let long = dir.join(&"y".repeat(120));
    let err = broker
        .spawn_unix_server(&long, ServerConfig::new())
        .await
        .expect_err("a socket path longer than sun_path is refused");
    assert!(err.to_string().contains("at most"), "{err}");
    assert!(!long.exists(), "the over-long path was bound");
    let spinning = Embedded::with_options(BrokerOptions {
        busy_poll: Duration::MAX,
        ..BrokerOptions::default()
    });
    let err = spinning
        .spawn_unix_server(dir.join("spin.sock"), ServerConfig::new())
        .await
        .expect_err("an unbounded busy-poll window is refused");
    assert_eq!(err.kind(), elbus::ErrorKind::Data, "{err}");
    let bad_options = [
        BrokerOptions {
            max_queued_bytes: 0,
            ..BrokerOptions::default()
        },
        BrokerOptions {
            max_reading_bytes: 0,
            ..BrokerOptions::default()
        },
        // Must hold the largest frame a listener accepts (64 MiB at the defaults).
        BrokerOptions {
            max_reading_bytes: 1 << 20,
            ..BrokerOptions::default()
        },
        BrokerOptions {
            max_subscriptions: 0,
            ..BrokerOptions::default()
        },
        BrokerOptions {
            name_limits: elbus::broker::PathLimits {
                max_bytes: 0,
                ..Default::default()
            },
            ..BrokerOptions::default()
        },
        BrokerOptions {
            topic_limits: elbus::broker::PathLimits {
                max_parts: 0,
                ..Default::default()
            },
            ..BrokerOptions::default()
        },
    ];
    for (n, options) in bad_options.into_iter().enumerate() {
        let err = Embedded::with_options(options)
            .spawn_unix_server(dir.join(&format!("opt{n}.sock")), ServerConfig::new())
            .await
            .expect_err("a bad broker option is refused");
        assert_eq!(err.kind(), elbus::ErrorKind::Data, "{err}");
    }
    let no_room = Embedded::with_options(BrokerOptions {
        internal_queue: QueueLimits {
            max_bytes: 0,
            ..QueueLimits::default()
        },
        ..BrokerOptions::default()
    });
    assert!(no_room.register_client("svc").is_err());
    // Two brokers of one process on one path: the second is refused, the first keeps it.
    let path = dir.join("shared.sock");
    broker
        .spawn_unix_server(&path, ServerConfig::new())
        .await
        .unwrap();
    let other = Embedded::new();
    let err = other
        .spawn_unix_server(&path, ServerConfig::new())
        .await
        .expect_err("the path is taken");
    assert_eq!(err.kind(), elbus::ErrorKind::Busy, "{err}");
    other.stop_listeners();
    let mut raw = Raw::connect(&path).await;
    assert_eq!(raw.handshake("still.served").await, Some(0x01));
    broker.stop_listeners();
    assert!(!path.exists());
}

/// What became of one `elbusd` started in a race.
#[derive(Debug)]
enum Outcome {
    /// It printed its ready line (and is still running).
    Ready,
    /// It exited; its output.
    Exited(String),
}

/// An `elbusd` whose stdout and stderr are read by threads, reporting its [`Outcome`] once.
struct Contender {
    child: Child,
    outcome: mpsc::Receiver<Outcome>,
}

impl Contender {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(ELBUSD)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("elbusd starts");
        let (tx, outcome) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let errors = std::thread::spawn(move || {
                let mut text = String::new();
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    text.push_str(&line);
                    text.push('\n');
                }
                text
            });
            let mut text = String::new();
            let mut ready = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !ready && line.ends_with(READY) {
                    ready = true;
                    let _ = tx.send(Outcome::Ready);
                }
                text.push_str(&line);
                text.push('\n');
            }
            text.push_str(&errors.join().unwrap_or_default());
            if !ready {
                let _ = tx.send(Outcome::Exited(text));
            }
        });
        Contender { child, outcome }
    }

    fn outcome(&self) -> Outcome {
        self.outcome
            .recv_timeout(WAIT)
            .expect("elbusd neither started nor exited")
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit.
    fn wait(&mut self) -> ExitStatus {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "elbusd did not exit");
            // std has no bounded wait for a child; polling its status is the way.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `count` elbusd with `args` at once; returns the one that got ready and asserts that
/// every other exited non-zero because the path was taken.
fn race(count: usize, args: &[&str], trial: usize) -> Contender {
    let mut contenders: Vec<Contender> = (0..count).map(|_| Contender::start(args)).collect();
    let outcomes: Vec<Outcome> = contenders.iter().map(Contender::outcome).collect();
    let ready: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, outcome)| matches!(outcome, Outcome::Ready))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        ready.len(),
        1,
        "trial {trial}: {} of {count} brokers on {args:?} are running: {outcomes:?}",
        ready.len()
    );
    for (n, outcome) in outcomes.iter().enumerate() {
        if let Outcome::Exited(output) = outcome {
            let status = contenders[n].wait();
            assert!(!status.success(), "trial {trial}: a loser exited 0");
            assert!(
                output.contains(PATH_TAKEN),
                "trial {trial}: the loser did not say why:\n{output}"
            );
        }
    }
    contenders.swap_remove(ready[0])
}

async fn register(path: &Path, name: &str) {
    let mut raw = Raw::connect(path).await;
    assert_eq!(raw.handshake(name).await, Some(0x01), "{name} registers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_started_at_once_on_one_path_leave_exactly_one_running() {
    const TRIALS: usize = 20;
    const CONTENDERS: usize = 3;
    for trial in 0..TRIALS {
        let dir = TempDir::new("race");
        let socket = dir.join("bus.sock");
        let socket_arg = socket.to_str().unwrap().to_owned();
        let args = ["-B", socket_arg.as_str(), "-w", "1"];
        let mut winner = tokio::task::block_in_place(|| race(CONTENDERS, &args, trial));
        register(&socket, "race.first").await;
        // Later starters on the taken path, while a client round-trips through the winner.
        let bystander = Bystander::start(&socket_arg, "race.bystander").await;
        let late = tokio::task::block_in_place(|| {
            let mut late: Vec<Contender> = (0..2).map(|_| Contender::start(&args)).collect();
            for contender in &mut late {
                match contender.outcome() {
                    Outcome::Exited(output) => assert!(output.contains(PATH_TAKEN), "{output}"),
                    Outcome::Ready => {
                        panic!("trial {trial}: a late broker started on a taken path")
                    }
                }
                assert!(!contender.wait().success());
            }
            late
        });
        bystander.wait_rounds(2).await;
        drop(late);
        // The losers removed nothing: the winner still serves its socket.
        assert!(socket.exists(), "trial {trial}: a loser removed the socket");
        register(&socket, "race.after").await;
        bystander.finish().await;
        winner.signal("TERM");
        let status = tokio::task::block_in_place(|| winner.wait());
        assert!(status.success(), "trial {trial}: winner exited {status:?}");
        assert!(!socket.exists(), "trial {trial}: the owner left its socket");
        assert!(
            !PathBuf::from(format!("{socket_arg}.lock")).exists(),
            "trial {trial}: the owner left its lock file"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_path_is_served_by_one_broker_only() {
    let dir = TempDir::new("fifo-race");
    let fifo = dir.join("bus.fifo");
    let fifo_arg = format!("fifo:{}", fifo.display());
    let (first_socket, second_socket) = (dir.join("a.sock"), dir.join("b.sock"));
    let (first_arg, second_arg) = (
        first_socket.to_str().unwrap().to_owned(),
        second_socket.to_str().unwrap().to_owned(),
    );
    let mut owner = Contender::start(&["-B", &first_arg, "-B", &fifo_arg]);
    assert!(matches!(owner.outcome(), Outcome::Ready));
    let bystander = Bystander::start(&first_arg, "fifo.bystander").await;
    let second = Contender::start(&["-B", &second_arg, "-B", &fifo_arg]);
    match tokio::task::block_in_place(|| second.outcome()) {
        Outcome::Exited(output) => assert!(output.contains(PATH_TAKEN), "{output}"),
        Outcome::Ready => panic!("a second broker started on a served FIFO"),
    }
    bystander.wait_rounds(2).await;
    drop(second);
    assert!(
        !second_socket.exists(),
        "the refused broker left its socket"
    );
    // The owner's FIFO is still the one it reads: a line written to it reaches a subscriber.
    let listener = elbus::ipc::Client::connect(&elbus::ipc::Config::new(&first_arg, "fifo.sub"))
        .await
        .unwrap();
    let mut events = listener.take_event_channel().unwrap();
    listener
        .subscribe("fifo/x", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    let line_fifo = fifo.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut pipe = std::fs::OpenOptions::new()
            .write(true)
            .open(&line_fifo)
            .unwrap();
        pipe.write_all(b"=fifo/x still-mine\n").unwrap();
    })
    .await
    .unwrap();
    let frame = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("the FIFO line arrives")
        .unwrap();
    assert_eq!(frame.payload(), b"still-mine");
    bystander.finish().await;
    owner.signal("TERM");
    assert!(tokio::task::block_in_place(|| owner.wait()).success());
    assert!(!fifo.exists() && !first_socket.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_without_acl_is_logged_and_ignored() {
    let mut broker = Broker::start(&BrokerKind::elbusd(ELBUSD));
    let unix = broker.paths()[0].to_owned();
    let bystander = Bystander::start(&unix, "hup.bystander").await;
    for hups in 1..=3 {
        broker.signal("HUP");
        tokio::task::block_in_place(|| broker.wait_for_log("nothing to reload", hups));
        bystander.wait_rounds(2).await;
    }
    register(Path::new(&unix), "hup.after").await;
    bystander.finish().await;
    broker.signal("TERM");
    let status = tokio::task::spawn_blocking(move || broker.wait_exit())
        .await
        .unwrap();
    assert!(status.success(), "exited {status:?}");
}
