//! `elbus rpc describe`: the real CLI shows the schema of a typed Rust service served over
//! `elbusd`, readable in a terminal and as JSON for scripts.

#[path = "../examples/calc_api/mod.rs"]
mod calc_api;

use calc_api::Calc;
use elbus::ipc::{Client, Config};
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::cli::elbus;

#[test]
fn describe_shows_the_typed_service_schema() {
    let broker = Broker::start(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")));
    let socket = broker.paths()[0].to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _service = runtime.block_on(async {
        let client = Client::connect(&Config::new(&socket, "svc.calc"))
            .await
            .unwrap();
        let (router, _seen) = elbus_suite::typed::test_router();
        let example = Client::connect(&Config::new(&socket, "svc.example"))
            .await
            .unwrap();
        let example_router = elbus_rpc::RpcRouter::new()
            .service(calc_api::calculator::Calculator::default().into_handler());
        (
            elbus_rpc::serve(client, router).unwrap(),
            elbus_rpc::RpcBus::serve(example, example_router).unwrap(),
        )
    });

    let human = elbus(&[&socket, "rpc", "describe", "svc.calc"], None);
    assert_eq!(human.code, 0, "{human:?}");
    assert!(human.stdout.contains("service Calc"), "{human:?}");
    assert!(
        human
            .stdout
            .contains("calc.add(a: int64, b: int64) -> int64"),
        "{human:?}"
    );
    assert!(human.stdout.contains("(notify: no reply)"), "{human:?}");
    // The codes come from the service's one list of error types, under each method using them.
    assert!(
        human
            .stdout
            .contains("error 1002 BadInput  The input was rejected."),
        "{human:?}"
    );

    let json = elbus(&[&socket, "--json", "rpc", "describe", "svc.calc"], None);
    assert_eq!(json.code, 0, "{json:?}");
    let schema: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let methods = schema["services"][0]["methods"].as_array().unwrap();
    assert!(methods.iter().any(|m| m["name"] == "calc.add"), "{schema}");
    // Each error type once per service; methods name it and repeat none of its codes.
    let errors = schema["services"][0]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{schema}");
    assert_eq!(errors[0]["name"], "CalcError", "{schema}");
    assert!(
        methods.iter().all(|m| m.get("errors").is_none()),
        "{schema}"
    );

    // Schema v2: wire types from the descriptors, streams, events and the user types.
    let example = elbus(&[&socket, "rpc", "describe", "svc.example"], None);
    assert_eq!(example.code, 0, "{example:?}");
    for line in [
        "schema v2, hash ",
        "calc.sum(xs: [int64], [scale: int64?]) -> int64",
        "calc.history(limit: uint32) -> stream of Added",
        "event calc/added {a: int64, b: int64, sum: int64}",
        "type Added = {a: int64, b: int64, sum: int64}",
    ] {
        assert!(
            example.stdout.contains(line),
            "no `{line}` in\n{}",
            example.stdout
        );
    }

    let missing = elbus(&[&socket, "rpc", "describe", "nobody"], None);
    assert_eq!(missing.code, 3, "{missing:?}");
}
