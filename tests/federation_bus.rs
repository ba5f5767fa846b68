//! Federation over a real nats-server with real `elbusd` nodes (`--federation`, `--node`):
//! publications across nodes (exactly one copy, no echo), RPC to `svc.calc@b` from Python and
//! typed Rust, fast failures for missing names and unknown nodes, refused `@` names and
//! duplicate node names.
#![cfg(feature = "federation")]

#[path = "../examples/calc_api/mod.rs"]
mod calc_api;

use std::process::Command;
use std::time::Duration;

use elbus::rpc::{DummyHandlers, RpcClient};
use elbus::{AsyncClient, QoS};
use elbus_suite::daemon::Daemon;
use elbus_suite::federation::{
    connect, next_publication, node, status, try_connect, wait_imports, wait_node_up,
};
use elbus_suite::nats::NatsServer;
use elbus_suite::python::{run_script, script};
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::{within, WAIT};

/// How long a call that must fail fast may take before the test calls it hung.
const FAST: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publications_cross_once_without_echo() {
    let nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let b = node(&nats.url(), "b", &[]);
    let (sub_a, mut events_a) = connect(a.unix_path(), "sub").await;
    let (sub_b, mut events_b) = connect(b.unix_path(), "sub").await;
    sub_a
        .subscribe("fed/#", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    sub_b
        .subscribe("fed/#", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    // Interest-based import: each node holds the NATS subscription once a client wants it.
    wait_imports(a.unix_path(), 1).await;
    wait_imports(b.unix_path(), 1).await;

    let (pub_a, _) = connect(a.unix_path(), "pub").await;
    for i in 0..20 {
        let topic = format!("fed/t/{i}");
        pub_a
            .publish(&topic, i.to_string().as_bytes(), QoS::Processed)
            .await
            .unwrap();
    }
    pub_a.publish("fed/end", b"", QoS::Processed).await.unwrap();
    // Ordered per publisher: the 21 frames in order, each once, and nothing between them.
    for events in [&mut events_a, &mut events_b] {
        for i in 0..20 {
            let (topic, sender, payload) = next_publication(events).await;
            assert_eq!(topic, format!("fed/t/{i}"));
            assert!(sender == "pub" || sender == "pub@a", "{sender}");
            assert_eq!(payload, i.to_string().as_bytes());
        }
        assert_eq!(next_publication(events).await.0, "fed/end");
    }
    // No echo: the next frame a's subscriber sees is b's, not a second copy of its own.
    let (pub_b, _) = connect(b.unix_path(), "pub").await;
    pub_b
        .publish("fed/from-b", b"x", QoS::Processed)
        .await
        .unwrap();
    let (topic, sender, _) = next_publication(&mut events_a).await;
    assert_eq!((topic.as_str(), sender.as_str()), ("fed/from-b", "pub@b"));
    assert_eq!(next_publication(&mut events_b).await.0, "fed/from-b");
    // Not exported: outside the allow-list.
    pub_a.publish("other/x", b"", QoS::Processed).await.unwrap();
    pub_a
        .publish("fed/last", b"", QoS::Processed)
        .await
        .unwrap();
    assert_eq!(next_publication(&mut events_b).await.0, "fed/last");

    let a_status = status(a.unix_path()).await;
    assert!(a_status.exported >= 21, "{a_status:?}");
    assert!(a_status.connected);
    let b_status = status(b.unix_path()).await;
    assert!(b_status.imported >= 22, "{b_status:?}");

    // While federation is on, names holding `@` address other nodes: a local one is refused.
    assert!(try_connect(a.unix_path(), "x@b").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_typed_rust_call_calc_on_another_node() {
    let nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let b = node(&nats.url(), "b", &[]);
    let mut calc = Command::new(elbus_suite::example_bin("calc_server"));
    calc.arg(b.unix_path());
    let calc = Daemon::spawn(calc);
    calc.wait_for_log("serving svc.calc", 1);
    wait_node_up(a.unix_path(), "b").await;
    wait_node_up(b.unix_path(), "a").await;

    let client = try_connect(a.unix_path(), "rust.caller").await.unwrap();
    let rpc = RpcClient::new(client, DummyHandlers).unwrap();
    let calc_b = calc_api::CalcClient::new(rpc.clone(), "svc.calc@b");
    let sum = within("svc.calc@b add", async { calc_b.add(40, 2).await }).await;
    assert!(matches!(sum, Ok(42)), "{sum:?}");
    let hello = within("svc.calc@b hello", async { calc_b.hello(None).await }).await;
    let Ok(hello) = hello else {
        panic!("svc.calc@b hello failed");
    };
    assert_eq!(hello, "hello, rust.caller@a (called by rust.caller@a)");

    // A missing name on b: a synthesized -32113 reply; an unknown node: ACK 0x71 (-32113).
    for target in ["svc.nobody@b", "svc.calc@zz"] {
        let call = rpc.call(target, "calc.add", b"\x80", QoS::Processed);
        let outcome = tokio::time::timeout(FAST, call).await;
        let err = outcome.unwrap_or_else(|_| panic!("{target}: no answer within {FAST:?}"));
        assert_eq!(err.unwrap_err().code(), -32113, "{target}");
    }

    let path = a.unix_path().to_str().unwrap().to_owned();
    let run = tokio::task::spawn_blocking(move || {
        run_script(&script("federation_caller.py"), &[&path, "b"], WAIT)
    })
    .await
    .unwrap();
    assert!(run.success(), "{run}");
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            "add 42",
            "hello hello, py.fed.caller@a (called by py.fed.caller@a)",
            "nobody -32113",
            "unknown node -32113",
        ],
        "{run}"
    );
}

#[test]
fn a_second_node_of_the_same_name_is_refused() {
    let nats = NatsServer::start();
    let _a = node(&nats.url(), "a", &[]);
    // The second one from a config file: the federation options are its keys too.
    let dir = TempDir::new("fed-dup");
    let config = dir.join("elbusd.toml");
    let text = format!(
        "federation = \"{}\"\nnode = \"a\"\nfederation-export = [\"fed/#\"]\n",
        nats.url()
    );
    std::fs::write(&config, text).unwrap();
    let mut second = Command::new(env!("CARGO_BIN_EXE_elbusd"));
    second
        .arg("-B")
        .arg(dir.join("dup.sock"))
        .arg("--config")
        .arg(&config);
    let (status, log) = Daemon::run_to_exit(second);
    assert!(!status.success(), "{log}");
    assert!(log.contains("another node is already named a"), "{log}");
}

#[test]
fn federation_options_are_checked() {
    let dir = TempDir::new("fed-opts");
    for (args, says) in [
        (&["--node", "a"][..], "--node needs --federation URL"),
        (
            &["--federation", "nats://127.0.0.1:1", "--node", "a.b"][..],
            "node name",
        ),
        (
            &[
                "--federation",
                "nats://127.0.0.1:1",
                "--node",
                "a",
                "--federation-export",
                ".broker/#",
            ][..],
            "never cross",
        ),
    ] {
        let mut elbusd = Command::new(env!("CARGO_BIN_EXE_elbusd"));
        elbusd.arg("-B").arg(dir.join("opts.sock")).args(args);
        let (status, log) = Daemon::run_to_exit(elbusd);
        assert_eq!(status.code(), Some(2), "{args:?}: {log}");
        assert!(log.contains(says), "{args:?}: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_rules_check_frames_from_other_nodes() {
    let nats = NatsServer::start();
    let dir = TempDir::new("fed-acl");
    let acl = dir.join("acl.toml");
    let rules = "[[client]]\nname = \"*\"\n\n[[remote]]\nnode = \"a\"\nname = \"pub\"\n\
                 publish = [\"fed/ok/#\"]\np2p = []\n";
    std::fs::write(&acl, rules).unwrap();
    let a = node(&nats.url(), "a", &[]);
    let b = node(&nats.url(), "b", &["--acl", acl.to_str().unwrap()]);
    let (sub, mut events) = connect(b.unix_path(), "sub").await;
    sub.subscribe("fed/#", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    wait_imports(b.unix_path(), 1).await;
    let (publisher, _) = connect(a.unix_path(), "pub").await;
    let (other, _) = connect(a.unix_path(), "other").await;
    for (client, topic) in [
        (&publisher, "fed/no/1"),
        (&other, "fed/ok/other"),
        (&publisher, "fed/ok/1"),
    ] {
        client
            .publish(topic, b"", QoS::Processed)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // Only pub@a on fed/ok/# passes: another topic, and an identity no rule names (fail
    // closed), are refused before routing.
    let (topic, sender, _) = next_publication(&mut events).await;
    assert_eq!((topic.as_str(), sender.as_str()), ("fed/ok/1", "pub@a"));
    assert!(status(b.unix_path()).await.refused >= 2);
}
