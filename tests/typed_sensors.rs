//! The `sensors` example end to end over an embedded broker's UNIX socket: the example's
//! router served as `svc.sensors`, called by the example's Rust tour and by
//! `examples/sensors_client.py` (PyPI `busrt` + `msgpack` only).

#[path = "../examples/sensors_api/mod.rs"]
mod sensors_api;

use elbus::rpc::{DummyHandlers, RpcClient};
use elbus_rpc::serve;
use elbus_suite::python::run_script;
use elbus_suite::rpc::Bus;
use elbus_suite::wait::WAIT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sensors_example_from_rust_and_python() {
    let bus = Bus::start().await;
    let _server = serve(
        bus.unix(sensors_api::SERVICE_NAME).await,
        sensors_api::router(),
    )
    .unwrap();

    let rpc = RpcClient::new(bus.unix("sensors.client").await, DummyHandlers).unwrap();
    let sensors = sensors_api::SensorsClient::new(rpc, sensors_api::SERVICE_NAME);
    assert_eq!(
        sensors_api::tour(&sensors).await,
        [
            "list: h1=Humidity t1=Temperature",
            "sample: t1 21.75 #1",
            "history: 0,1",
            "read x9: unknown sensor x9",
            "slow sample: timed out",
            "calibrate: 3 bytes",
            "calibrate 100: 100 > 64",
        ]
    );

    let script = elbus_suite::repo_root().join("examples/sensors_client.py");
    let path = bus.unix.to_str().unwrap().to_owned();
    let run = tokio::task::spawn_blocking(move || run_script(&script, &[&path], WAIT))
        .await
        .unwrap();
    assert!(run.success(), "{run}");
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            "list: h1=Humidity t1=Temperature",
            "read: t1 Temperature",
            "read x9: 2001 no sensor \"x9\" {'id': 'x9'}",
            "slow sample: -32120",
            "calibrate: 3 bytes",
            "calibrate 100: 2002 a calibration table of 100 bytes (1 to 64) {'len': 100, 'max': 64}",
        ],
        "{run}"
    );
}
