//! The `calc` example's events and history stream (`examples/calc_api`), checked from outside
//! with the PyPI `busrt` client and `msgpack` (`tests/interop/typed_calc_contract.py`) over
//! UNIX and TCP, and from Rust with the typed client and receiver in process.

#[path = "../examples/calc_api/mod.rs"]
mod calc_api;

use calc_api::calculator::Calculator;
use calc_api::{Added, Calc, CalcClient, CalcEvent, SERVICE_NAME};
use elbus_rpc::{RpcBus, RpcRouter};
use elbus_suite::python::{run_script, script};
use elbus_suite::rpc::{within, Bus};
use elbus_suite::wait::WAIT;
use futures_util::StreamExt;

fn router() -> RpcRouter {
    RpcRouter::new().service(Calculator::default().into_handler())
}

async fn python_sees_the_contract(tcp: bool) {
    let bus = Bus::start().await;
    let server = RpcBus::serve(bus.unix(SERVICE_NAME).await, router()).unwrap();
    let path = if tcp {
        bus.tcp.to_string()
    } else {
        bus.unix.to_str().unwrap().to_owned()
    };
    let run = tokio::task::spawn_blocking(move || {
        run_script(&script("typed_calc_contract.py"), &[&path], WAIT)
    })
    .await
    .unwrap();
    assert!(run.success(), "{run}");
    assert_eq!(run.stdout.trim(), "OK", "{run}");
    // Every cursor the script opened ended, failed or was closed: none is left behind.
    assert_eq!(server.router().open_streams(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sees_the_calc_contract_over_unix() {
    python_sees_the_contract(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sees_the_calc_contract_over_tcp() {
    python_sees_the_contract(true).await;
}

/// The same contract from Rust, in process: the typed receiver and the typed stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sees_the_calc_contract_in_process() {
    let bus = Bus::start().await;
    let _server = RpcBus::serve(bus.local(SERVICE_NAME), router()).unwrap();
    let me = RpcBus::client(bus.local("rust.calc.watcher")).unwrap();
    let mut events = me.subscribe::<CalcEvent>().await.unwrap();
    let calc = CalcClient::new(me.clone(), SERVICE_NAME);
    for (a, b) in [(1, 2), (3, 4), (5, 6)] {
        assert_eq!(calc.add(a, b).await.unwrap(), a + b);
        let got = within("calc/added", events.recv()).await.unwrap();
        assert_eq!(got.topic, "calc/added");
        assert_eq!(got.event, CalcEvent::Added { a, b, sum: a + b });
    }
    let history: Vec<Added> =
        within("history", calc.history(2).map(Result::unwrap).collect()).await;
    assert_eq!(
        history,
        [
            Added { a: 3, b: 4, sum: 7 },
            Added {
                a: 5,
                b: 6,
                sum: 11
            }
        ]
    );
}

/// `calc.watch` as a push stream, the way `examples/calc_watch.rs` opens it: every add after
/// the stream is ready, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calc_watch_pushes_every_later_add() {
    let bus = Bus::start().await;
    let server = RpcBus::serve(bus.local(SERVICE_NAME), router()).unwrap();
    let me = RpcBus::client(bus.local("rust.calc.watch")).unwrap();
    let calc = CalcClient::new(me.clone(), SERVICE_NAME);
    calc.add(100, 100).await.unwrap();
    let mut watch = calc.watch().push(2);
    within("the watch to open", watch.ready()).await.unwrap();
    for i in 0..10 {
        calc.add(i, 1).await.unwrap();
    }
    for i in 0..10 {
        let got = within("a pushed add", watch.next()).await.unwrap().unwrap();
        assert_eq!(
            got,
            Added {
                a: i,
                b: 1,
                sum: i + 1
            }
        );
    }
    drop(watch);
    elbus_suite::rpc::wait_until("the watch to close", || server.router().open_streams() == 0)
        .await;
}
