//! `elbusd --config FILE` over the real binary: values from the file take effect (a listener
//! serves, a limit is enforced and reported), the command line overrides the file, errors name
//! the file, line and key (exit 2), inline access-control rules apply and reload on SIGHUP, and
//! the example `deploy/elbusd.toml` loads and lists every option.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use elbus::ipc::{Client, Config};
use elbus::AsyncClient;
use elbus_suite::daemon::Daemon;
use elbus_suite::repo_root;
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::{within, CLIENT_TIMEOUT};

const READY: &str = "elbus broker started";

fn elbusd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_elbusd"))
}

/// Writes `text` as `dir/elbusd.toml` and returns its path.
fn config_file(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.join("elbusd.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A TOML string for `path`.
fn toml_str(path: &Path) -> String {
    format!("{:?}", path.to_str().expect("UTF-8 temp path"))
}

async fn connect(path: &Path, name: &str) -> Result<Client, elbus::Error> {
    within(
        "a connection",
        Client::connect(&Config::new(path.to_str().unwrap(), name).timeout(CLIENT_TIMEOUT)),
    )
    .await
}

#[tokio::test]
async fn a_listener_and_limits_from_the_file_take_effect() {
    let dir = TempDir::new("cfg-values");
    let socket = dir.join("from-file.sock");
    let text = format!(
        "bind = [{}]\nqueue-size = 100\nmax-name-bytes = 8\n",
        toml_str(&socket)
    );
    let path = config_file(&dir, &text);
    let mut command = elbusd();
    command.arg("--config").arg(&path);
    let daemon = Daemon::spawn(command);
    daemon.wait_for_log(READY, 1);
    daemon.wait_for_log("queue size: 100 frames", 1);
    let client = connect(&socket, "short")
        .await
        .expect("the file's listener serves");
    assert!(client.is_connected());
    let refused = connect(&socket, "a.name.longer.than.8").await;
    assert!(
        refused.is_err(),
        "max-name-bytes = 8 from the file is enforced"
    );
}

#[tokio::test]
async fn the_command_line_overrides_the_file() {
    let dir = TempDir::new("cfg-override");
    let in_file = dir.join("in-file.sock");
    let on_command_line = dir.join("on-command-line.sock");
    let text = format!("bind = [{}]\nqueue-size = 100\n", toml_str(&in_file));
    let path = config_file(&dir, &text);
    let mut command = elbusd();
    command
        .arg("--config")
        .arg(&path)
        .args(["--queue-size", "7", "-B"])
        .arg(&on_command_line);
    let daemon = Daemon::spawn(command);
    daemon.wait_for_log(READY, 1);
    daemon.wait_for_log("queue size: 7 frames", 1);
    connect(&on_command_line, "c")
        .await
        .expect("the -B listener serves");
    assert!(
        !in_file.exists(),
        "one -B replaces the file's listeners:\n{}",
        daemon.log()
    );
}

/// Runs elbusd with the config `text` and returns the one line it printed; asserts exit 2.
fn refused(text: &str) -> (PathBuf, String) {
    let dir = TempDir::new("cfg-refused");
    let path = config_file(&dir, text);
    let mut command = elbusd();
    command
        .arg("--config")
        .arg(&path)
        .arg("-B")
        .arg(dir.join("never.sock"));
    let (status, output) = Daemon::run_to_exit(command);
    assert_eq!(status.code(), Some(2), "{text:?}:\n{output}");
    assert_eq!(output.lines().count(), 1, "one line:\n{output}");
    (path, output.trim_end().to_owned())
}

#[test]
fn unknown_keys_and_bad_values_name_the_file_line_and_key() {
    let (path, line) = refused("timeout = 5\n\nqueue-sise = 10\n");
    assert_eq!(
        line,
        format!(
            "elbusd: error: {}:3: key `queue-sise`: unknown key (the keys are the long \
             options of `elbusd --help`)",
            path.display()
        )
    );
    let (path, line) = refused("# limits\nqueue-size = 0\n");
    let prefix = format!("elbusd: error: {}:2: key `queue-size`: ", path.display());
    assert!(
        line.starts_with(&prefix) && line.contains("at least 1"),
        "{line}"
    );
    let (_, line) = refused("timeout = 100000\n");
    assert!(
        line.contains(":1: key `timeout`: ") && line.contains("86400"),
        "{line}"
    );
    let (_, line) = refused("overflow = \"drop-everything\"\n");
    assert!(line.contains(":1: key `overflow`: "), "{line}");
    let (_, line) = refused("bind = [\"/tmp/ok.sock\",\n  \"not-an-address\"]\n");
    assert!(
        line.contains(":2: key `bind`: invalid bind address"),
        "{line}"
    );
    let (_, line) = refused("verbose = 1\n");
    assert!(
        line.contains("key `verbose`: expected true or false"),
        "{line}"
    );
    let (_, line) = refused("[federation]\nupstream = \"x\"\n");
    assert!(
        line.contains(":1: key `federation`: expected a value, not a table"),
        "{line}"
    );
    let (_, line) = refused("[[acl.client]]\nname = \"a\"\nadmn = true\n");
    assert!(
        line.contains(":3: key `acl`: ") && line.contains("admn"),
        "{line}"
    );
    let (_, line) = refused("queue-size = = 3\n");
    assert!(line.contains(":1: invalid TOML"), "{line}");
}

#[test]
fn a_missing_config_file_is_a_one_line_error() {
    let dir = TempDir::new("cfg-missing");
    let mut command = elbusd();
    command.arg("--config").arg(dir.join("absent.toml"));
    let (status, output) = Daemon::run_to_exit(command);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.starts_with("elbusd: error: unable to read "),
        "{output}"
    );
}

#[tokio::test]
async fn inline_rules_apply_and_reload_on_sighup() {
    let dir = TempDir::new("cfg-acl");
    let socket = dir.join("acl.sock");
    let rules_for = |name: &str| {
        format!(
            "bind = [{}]\n\n[[acl.client]]\nname = {name:?}\n",
            toml_str(&socket)
        )
    };
    let path = config_file(&dir, &rules_for("first.*"));
    let mut command = elbusd();
    command.arg("--config").arg(&path);
    let daemon = Daemon::spawn(command);
    daemon.wait_for_log(READY, 1);
    daemon.wait_for_log("access control: 1 rules from the [acl] tables of", 1);
    connect(&socket, "first.a")
        .await
        .expect("the inline rule admits first.*");
    assert!(
        connect(&socket, "second.a").await.is_err(),
        "no rule for second.*"
    );
    std::fs::write(&path, rules_for("second.*")).unwrap();
    daemon.signal("HUP");
    daemon.wait_for_log("access control reloaded: 1 rules", 1);
    connect(&socket, "second.a")
        .await
        .expect("the reloaded rule admits second.*");
    // A broken file keeps the rules in force.
    std::fs::write(&path, "[[acl.client]]\nnam = \"x\"\n").unwrap();
    daemon.signal("HUP");
    daemon.wait_for_log("access control not reloaded, the old rules stay", 1);
    connect(&socket, "second.b")
        .await
        .expect("the old rules stay");
}

/// The example config, `deploy/elbusd.toml`.
fn example() -> PathBuf {
    repo_root().join("deploy/elbusd.toml")
}

#[tokio::test]
async fn the_example_config_loads_and_serves() {
    let dir = TempDir::new("cfg-example");
    let socket = dir.join("example.sock");
    let mut command = elbusd();
    command
        .arg("--config")
        .arg(example())
        .arg("-B")
        .arg(&socket);
    let daemon = Daemon::spawn(command);
    daemon.wait_for_log(READY, 1);
    connect(&socket, "example")
        .await
        .expect("serves with the example settings");
}

#[test]
fn the_example_config_lists_every_option_with_a_valid_value() {
    let text = std::fs::read_to_string(example()).unwrap();
    // Every key, set or commented out (`# key = value`), uncommented: it must still load.
    let mut uncommented = String::new();
    let mut keys = Vec::new();
    for line in text.lines() {
        let candidate = line.strip_prefix("# ").unwrap_or(line);
        let key = candidate.split(" = ").next().unwrap_or("");
        let is_key = !key.is_empty()
            && candidate.contains(" = ")
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        if is_key {
            keys.push(key.to_owned());
            // The group must exist on the machine that loads it; its lookup is tested apart.
            // The federation keys need a NATS server and credential files: they are loaded
            // against a real one in tests/federation_bus.rs.
            let needs_nats = key.starts_with("federation") || key == "node";
            if key != "socket-group" && !needs_nats {
                uncommented.push_str(candidate);
                uncommented.push('\n');
            }
        }
    }
    let command = elbus::server::ServerArgs::command();
    let missing: Vec<&str> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .filter(|long| !["config", "help", "version"].contains(long))
        .filter(|long| !keys.iter().any(|key| key == long))
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/elbusd.toml lacks a `key = default` line for: {missing:?}"
    );
    let dir = TempDir::new("cfg-every");
    let socket = dir.join("every.sock");
    let uncommented = uncommented
        .replace("/run/elbus/elbus.sock", socket.to_str().unwrap())
        .replace(
            "/run/elbus/elbusd.pid",
            dir.join("elbusd.pid").to_str().unwrap(),
        )
        .replace("acl = \"/etc/elbus/acl.toml\"", "");
    // A TCP address in an example (a listener, an endpoint) gets a free port here.
    let uncommented = free_ports(&uncommented);
    let path = config_file(&dir, &uncommented);
    let mut command = elbusd();
    command.arg("--config").arg(&path);
    let daemon = Daemon::spawn(command);
    daemon.wait_for_log(READY, 1);
}

/// `text` with every `127.0.0.1:PORT` turned into `127.0.0.1:0` (any free port).
fn free_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (head, tail) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(head);
        let digits = tail.len() - tail.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str(if digits > 0 { "0" } else { "" });
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}
