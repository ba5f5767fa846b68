//! Federation failures with a real nats-server: the server killed mid-traffic (local traffic
//! keeps passing, remote sends fail at once, `.broker/remote/node` down then up, traffic
//! resumes after the restart), and a three-server cluster losing the server a node uses.
#![cfg(feature = "federation")]

use std::time::Duration;

use elbus::federation::REMOTE_NODE_TOPIC;
use elbus::{AsyncClient, ErrorKind, QoS};
use elbus_suite::federation::{
    connect, next_announcement, next_message, next_publication, node, poll_until,
    send_until_through, sent, wait_imports, wait_node_up, watcher,
};
use elbus_suite::nats::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_then_restarted() {
    let mut nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let b = node(&nats.url(), "b", &[]);
    let (_watch, mut announcements) = watcher(a.unix_path(), "watch", &[REMOTE_NODE_TOPIC]).await;
    let (_sink, mut sink_events) = connect(b.unix_path(), "svc.sink").await;
    let (_local, mut local_events) = connect(a.unix_path(), "svc.local").await;
    let (_local_b, mut local_b_events) = connect(b.unix_path(), "svc.local").await;
    let (app, _) = connect(a.unix_path(), "app").await;
    let (app_b, _) = connect(b.unix_path(), "app").await;
    wait_node_up(a.unix_path(), "b").await;
    sent(&app, "svc.sink@b", b"before").await.unwrap();
    assert_eq!(
        next_message(&mut sink_events).await,
        ("app@a".to_owned(), b"before".to_vec())
    );

    nats.kill();
    // Once the gateway sees the connection gone, every remote send fails at once with 0x77
    // (sends queued before that are lost: at most once).
    let err = poll_until("a remote send refused", || async {
        sent(&app, "svc.sink@b", b"while down").await.err()
    })
    .await;
    assert_eq!(err.kind(), ErrorKind::NotDelivered, "{err}");
    // Local traffic on both nodes is untouched.
    for i in 0..10u8 {
        sent(&app, "svc.local", &[i]).await.unwrap();
        assert_eq!(next_message(&mut local_events).await.1, [i]);
        sent(&app_b, "svc.local", &[i]).await.unwrap();
        assert_eq!(next_message(&mut local_b_events).await.1, [i]);
    }
    // b may have come up after the watcher subscribed: its join's `up` can come first.
    let mut state = next_announcement(&mut announcements, "b").await;
    while state == "up" {
        state = next_announcement(&mut announcements, "b").await;
    }
    assert_eq!(state, "down");

    nats.restart();
    assert_eq!(next_announcement(&mut announcements, "b").await, "up");
    // The frames that passed before the restart's first success may have been lost, never
    // duplicated: the next one to arrive is an `after`.
    let before = send_until_through(&app, "svc.sink@b", b"after", &mut sink_events, "app@a").await;
    assert!(before.iter().all(|p| p == b"while down"), "{before:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_server_dies_and_the_node_fails_over() {
    let mut cluster = NatsServer::cluster();
    // a knows only the first server (the client learns the others from the cluster); b the
    // other two.
    let a = node(&cluster[0].url(), "a", &[]);
    let b_urls = format!("{},{}", cluster[1].url(), cluster[2].url());
    let b = node(&b_urls, "b", &[]);
    let (sub, mut events) = connect(b.unix_path(), "sub").await;
    sub.subscribe("fed/#", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    wait_imports(b.unix_path(), 1).await;
    wait_node_up(a.unix_path(), "b").await;
    let (publisher, _) = connect(a.unix_path(), "pub").await;
    // Interest travels between the cluster's servers on its own time: probe until one crosses.
    probe_until_one_crosses(&publisher, &mut events).await;

    cluster[0].kill();
    // a reconnects to a server it learnt from the cluster; probes cross again.
    probe_until_one_crosses(&publisher, &mut events).await;
    for i in 0..20 {
        publisher
            .publish(&format!("fed/run/{i}"), b"", QoS::Processed)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // Late probes may come first; then the run, once each and in order.
    let mut expected = 0;
    while expected < 20 {
        let (topic, sender, _) = next_publication(&mut events).await;
        assert_eq!(sender, "pub@a");
        if topic.starts_with("fed/probe/") {
            assert_eq!(expected, 0, "a probe after the run started: {topic}");
            continue;
        }
        assert_eq!(
            topic,
            format!("fed/run/{expected}"),
            "in order, no duplicates"
        );
        expected += 1;
    }
}

/// Publishes `fed/probe/N` until one reaches `events` (each attempt waits a short while).
async fn probe_until_one_crosses(publisher: &elbus::ipc::Client, events: &mut elbus::EventChannel) {
    elbus_suite::wait::within("a probe across the cluster", async {
        for round in 0u32.. {
            let topic = format!("fed/probe/{round}");
            if let Ok(confirm) = publisher.publish(&topic, b"", QoS::Processed).await {
                let _ = confirm.await;
            }
            if let Ok(Some(frame)) =
                tokio::time::timeout(Duration::from_millis(200), events.recv()).await
            {
                if frame.topic().is_some_and(|t| t.starts_with("fed/probe/")) {
                    return;
                }
            }
        }
    })
    .await;
}
