//! elbusd under a fake systemd, over real processes: `READY=1` on the notification socket (a
//! path or an abstract name) once the listeners serve, `STOPPING=1` on SIGTERM, and socket
//! activation with a UNIX and a TCP listener the test binds and passes at fd 3 and 4.

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;

use elbus::ipc::{Client, Config};
use elbus::AsyncClient;
use elbus_suite::daemon::{raw, socket_activated, Daemon, NotifySocket};
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::{within, CLIENT_TIMEOUT};

fn elbusd_path() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_elbusd"))
}

async fn connect(path: &str, name: &str) -> Client {
    within(
        "a connection",
        Client::connect(&Config::new(path, name).timeout(CLIENT_TIMEOUT)),
    )
    .await
    .unwrap_or_else(|e| panic!("{name} cannot connect to {path}: {e}"))
}

/// Starts elbusd on a fresh socket with `NOTIFY_SOCKET` pointing at `notify`, awaits
/// `READY=1`, connects a client at that point, then sends SIGTERM and awaits `STOPPING=1`.
async fn ready_then_stopping(notify: &NotifySocket, dir: &TempDir) {
    let socket = dir.join("broker.sock");
    let mut command = Command::new(elbusd_path());
    command
        .arg("-B")
        .arg(&socket)
        .env("NOTIFY_SOCKET", &notify.env_value);
    let mut daemon = Daemon::spawn(command);
    let ready = notify.wait_for("READY=1");
    assert!(ready.contains("STATUS=serving 1 listeners"), "{ready:?}");
    // Ready means serving: no wait for a log line.
    let client = connect(socket.to_str().unwrap(), "at-ready").await;
    assert!(client.is_connected());
    daemon.signal("TERM");
    let stopping = notify.wait_for("STOPPING=1");
    assert!(
        stopping.contains("STATUS=stopping on SIGTERM"),
        "{stopping:?}"
    );
    assert!(daemon.wait_exit().success(), "{}", daemon.log());
}

#[tokio::test]
async fn ready_and_stopping_reach_a_notify_socket_path() {
    let dir = TempDir::new("sd-notify");
    let notify = NotifySocket::at_path(&dir.join("notify"));
    ready_then_stopping(&notify, &dir).await;
}

#[tokio::test]
async fn ready_and_stopping_reach_an_abstract_notify_socket() {
    let dir = TempDir::new("sd-notify-abstract");
    let name = format!("elbus-test-notify-{}", std::process::id());
    let notify = NotifySocket::abstract_named(&name);
    ready_then_stopping(&notify, &dir).await;
}

#[tokio::test]
async fn passed_unix_and_tcp_sockets_serve_clients() {
    let dir = TempDir::new("sd-activation");
    let unix_path = dir.join("passed.sock");
    let unix = UnixListener::bind(&unix_path).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_addr = tcp.local_addr().unwrap().to_string();
    let notify = NotifySocket::at_path(&dir.join("notify"));
    let mut command = socket_activated(
        elbusd_path(),
        &[(raw(&unix), "elbus-unix"), (raw(&tcp), "elbus-tcp")],
    );
    // The file's `bind` names the passed socket: it is served once, not bound again.
    let config = dir.join("elbusd.toml");
    std::fs::write(
        &config,
        format!("bind = [{:?}]\n", unix_path.to_str().unwrap()),
    )
    .unwrap();
    command
        .arg("--config")
        .arg(&config)
        .args(["--max-name-bytes", "16"])
        .env("NOTIFY_SOCKET", &notify.env_value);
    let daemon = Daemon::spawn(command);
    let ready = notify.wait_for("READY=1");
    // Our copies are not needed any more: elbusd serves its own.
    drop((unix, tcp));
    assert!(
        ready.contains("STATUS=serving 2 listeners"),
        "{ready:?}\n{}",
        daemon.log()
    );
    daemon.wait_for_log("not bound again", 1);
    let over_unix = connect(unix_path.to_str().unwrap(), "via.unix").await;
    let over_tcp = connect(&tcp_addr, "via.tcp").await;
    // The command-line limits apply to the passed sockets too.
    let refused = within(
        "a refusal",
        Client::connect(&Config::new(&tcp_addr, "a.name.longer.than.16").timeout(CLIENT_TIMEOUT)),
    )
    .await;
    assert!(
        refused.is_err(),
        "--max-name-bytes applies to a passed socket"
    );
    // A message from one transport to the other.
    let mut rx = over_tcp.take_event_channel().expect("events");
    over_unix
        .send("via.tcp", b"across", elbus::QoS::Processed)
        .await
        .unwrap();
    let frame = within("the message", rx.recv()).await.expect("a frame");
    assert_eq!(frame.payload(), b"across");
}

#[test]
fn a_passed_socket_that_is_not_listening_is_refused() {
    let datagram = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let command = socket_activated(elbusd_path(), &[(raw(&datagram), "bad")]);
    let (status, output) = Daemon::run_to_exit(command);
    assert!(!status.success(), "{output}");
    assert!(
        output.contains(
            "socket activation: passed descriptor 3 (name \"bad\"): not a listening stream socket"
        ),
        "{output}"
    );
    let unlistened = socket2_unlistened();
    let command = socket_activated(elbusd_path(), &[(raw(&unlistened), "idle")]);
    let (status, output) = Daemon::run_to_exit(command);
    assert!(
        !status.success() && output.contains("not a listening stream socket"),
        "{output}"
    );
}

/// A TCP stream socket that is connected, not listening.
fn socket2_unlistened() -> std::net::TcpStream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap()
}

#[test]
fn listen_fds_for_another_process_are_ignored() {
    let dir = TempDir::new("sd-other-pid");
    let socket = dir.join("own.sock");
    let mut command = Command::new(elbusd_path());
    command
        .arg("-B")
        .arg(&socket)
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1");
    let daemon = Daemon::spawn(command);
    daemon.wait_for_log("elbus broker started", 1);
    assert!(socket.exists(), "its own -B socket is bound");
    assert!(!daemon.log().contains("passed socket"), "{}", daemon.log());
}
