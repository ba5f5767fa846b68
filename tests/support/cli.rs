//! Helpers of the CLI tests (`cli_*`, `busrt_cli`): running the real `elbus` binary against
//! brokers started for the test, and a `listen` process whose output is read as it comes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::broker::{Broker, BrokerKind, Transport};
use crate::wait::WAIT;

/// Our broker and the reference busrtd 0.5.6 (panics with an install hint if it is missing).
pub fn brokers() -> Vec<Broker> {
    vec![
        Broker::start(&BrokerKind::elbusd(crate::workspace_bin("elbusd"))),
        Broker::busrtd(),
    ]
}

/// The UNIX socket path of `broker`, as the CLI takes it.
pub fn unix(broker: &Broker) -> String {
    broker.path(Transport::Unix)
}

/// What one `elbus` run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`-1` if killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Run {
    /// The stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// Runs `elbus ARGS` to the end, with `stdin` as its standard input (empty if `None`).
pub fn elbus(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run(&crate::workspace_bin("elbus"), args, stdin)
}

/// Runs `program ARGS` to the end, with `stdin` as its standard input (empty if `None`).
pub fn run(program: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run elbus");
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.unwrap_or_default().to_vec();
    // Written from a thread so a child that does not read stdin cannot block the test.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output().expect("wait for elbus");
    let _ = writer.join();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Asserts a successful run that printed exactly `OK`.
pub fn assert_ok(run: &Run) {
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "OK\n", "{run:?}");
}

/// Asserts a failed run with `code` and exactly one stderr line containing `text`.
pub fn assert_fails(run: &Run, code: i32, text: &str) {
    assert_eq!(run.code, code, "{run:?}");
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "one stderr line expected: {run:?}");
    assert!(lines[0].contains(text), "{text:?} not in {run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
}

/// A long-running `elbus` (`listen`, `rpc listen`) whose stdout lines arrive on a channel.
pub struct Streaming {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    /// Starts `elbus ARGS` and returns once its stderr says `ready` (a line starting with it).
    pub fn start(args: &[&str], ready: &str) -> Streaming {
        Streaming::start_program(&crate::workspace_bin("elbus"), args, ready)
    }

    /// Starts `program ARGS` and returns once its stdout or stderr prints a line starting with
    /// `ready`.
    pub fn start_program(program: &Path, args: &[&str], ready: &str) -> Streaming {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout_ready = (ready.to_owned(), ready_tx.clone());
        std::thread::spawn(move || {
            let (ready, ready_tx) = stdout_ready;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // busrt prints its log and readiness on stdout; elbus on stderr.
                if line.contains(&ready) {
                    let _ = ready_tx.send(Ok(()));
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = ready.to_owned();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.starts_with(&ready) {
                    let _ = ready_tx.send(Ok(()));
                }
                seen.push(line);
            }
            // Ended without the ready line: hand over what it said instead.
            let _ = ready_tx.send(Err(seen.join("\n")));
        });
        match ready_rx.recv_timeout(WAIT) {
            Ok(Ok(())) => Streaming { child, lines },
            Ok(Err(stderr)) => panic!("elbus {args:?} ended before it was ready: {stderr}"),
            Err(_) => panic!("elbus {args:?} was not ready within {WAIT:?}"),
        }
    }

    /// The next stdout line.
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .expect("a line from the streaming elbus")
    }

    /// The lines of the next printed event, up to (not including) its `----` separator.
    pub fn event(&self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            if line == "----" {
                return lines;
            }
            lines.push(line);
        }
    }

    /// The next event whose first line contains `text` (others, such as `.broker`
    /// announcements, are skipped).
    pub fn event_with(&self, text: &str) -> Vec<String> {
        loop {
            let event = self.event();
            if event.first().is_some_and(|first| first.contains(text)) {
                return event;
            }
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
