//! Typed Python clients of the `calc` and `sensors` examples (issue: schema v2 and Python):
//! the schema v2 golden of `rpc.describe`, the golden of the module `elbus rpc codegen
//! --python` generates, `mypy --strict` accepting its use and refusing a wrong param type, and
//! both the generated module and the dynamic `elbus_typed.Proxy` (python/) calling the live
//! services with PyPI `busrt` and agreeing on every method.

#[path = "../examples/calc_api/mod.rs"]
mod calc_api;
#[path = "../examples/sensors_api/mod.rs"]
mod sensors_api;

use std::path::{Path, PathBuf};

use calc_api::calculator::Calculator;
use calc_api::Calc;
use elbus_rpc::{RpcBus, RpcRouter};
use elbus_suite::cli::{elbus, Run};
use elbus_suite::python::{run_script, script};
use elbus_suite::rpc::Bus;
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::WAIT;

fn calc_router() -> RpcRouter {
    RpcRouter::new().service(Calculator::default().into_handler())
}

fn snapshot(name: &str) -> PathBuf {
    elbus_suite::repo_root().join("tests/snapshots").join(name)
}

/// Compares `actual` with the reviewed file `tests/snapshots/NAME` (rewritten with
/// `UPDATE_SNAPSHOTS=1`).
fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    assert!(
        actual == expected,
        "{name} changed; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

/// `rpc codegen` exited 0 with a module on stdout.
fn assert_generated(run: &Run) {
    assert_eq!(run.code, 0, "codegen failed: {}", run.stderr);
    assert!(
        run.stdout.starts_with("\"\"\"Typed client of"),
        "{}",
        run.stderr
    );
}

fn describe_json(router: &RpcRouter) -> serde_json::Value {
    rmp_serde::from_slice(&router.describe().unwrap()).unwrap()
}

/// `elbus - rpc codegen TARGET --python --schema FILE` for this schema.
fn codegen(dir: &Path, name: &str, target: &str, schema: &serde_json::Value) -> String {
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_string(schema).unwrap()).unwrap();
    let run = elbus(
        &[
            "/nonexistent.sock",
            "rpc",
            "codegen",
            target,
            "--python",
            "--schema",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_generated(&run);
    std::fs::write(dir.join(format!("{name}.py")), &run.stdout).unwrap();
    run.stdout
}

#[test]
fn schema_v2_of_the_calc_example_matches_its_golden() {
    let schema = describe_json(&calc_router());
    assert_eq!(schema["schema_version"], 2);
    let hash = schema["hash"].as_str().unwrap();
    assert_eq!(hash.len(), 16, "{hash}");
    // The history item is a user struct: described once in $defs, referenced by the method.
    let service = &schema["services"][0];
    let history = service["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "calc.history")
        .unwrap();
    assert_eq!(history["stream"], true);
    assert_eq!(history["result"]["$ref"], "#/$defs/Added");
    assert_eq!(
        service["$defs"]["Added"]["required"],
        serde_json::json!(["a", "b", "sum"])
    );
    assert_eq!(
        service["events"][0]["fields"][2]["schema"]["format"],
        "int64"
    );
    // The same router describes itself the same way every time (the hash is stable).
    assert_eq!(describe_json(&calc_router())["hash"], schema["hash"]);
    assert_snapshot(
        "calc_describe_v2.json",
        &(serde_json::to_string_pretty(&schema).unwrap() + "\n"),
    );
}

#[test]
fn the_generated_calc_module_matches_its_golden_and_passes_mypy_strict() {
    let dir = TempDir::new("codegen");
    let module = codegen(
        dir.path(),
        "calc_client",
        "svc.calc",
        &describe_json(&calc_router()),
    );
    assert_snapshot("calc_client.py", &module);
    for needed in [
        "class CalcClient:",
        "def add(self, a: int, b: int) -> int:",
        "def history(self, limit: int, *, batch: int = 64) -> Cursor[Added]:",
        "class DivisionByZero(CalcError):",
        "TOPIC_ADDED = 'calc/added'",
    ] {
        assert!(module.contains(needed), "no `{needed}` in\n{module}");
    }
    let mypy = script("mypy_check.py");
    let module_dir = dir.path().to_str().unwrap().to_owned();
    let good = script("mypy/good_use.py");
    let run = run_script(
        &mypy,
        &[
            &module_dir,
            dir.join("calc_client.py").to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        WAIT * 6,
    );
    assert!(
        run.success(),
        "mypy --strict refused the module or its use:\n{run}"
    );
    let bad = script("mypy/bad_use.py");
    let run = run_script(&mypy, &[&module_dir, bad.to_str().unwrap()], WAIT * 6);
    assert!(!run.success(), "mypy accepted calc.add(a=\"x\"):\n{run}");
    assert!(
        run.stdout.contains("bad_use.py:11") && run.stdout.contains("\"str\""),
        "mypy did not point at the str argument:\n{run}"
    );
}

#[test]
fn the_elbus_typed_package_passes_mypy_strict() {
    let package = elbus_suite::repo_root().join("python");
    let dir = TempDir::new("mypy-pkg");
    let run = run_script(
        &script("mypy_check.py"),
        &[
            dir.path().to_str().unwrap(),
            package.join("elbus_typed").to_str().unwrap(),
        ],
        WAIT * 6,
    );
    assert!(
        run.success(),
        "mypy --strict refused python/elbus_typed:\n{run}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_and_the_generated_modules_call_the_live_examples_alike() {
    let bus = Bus::start().await;
    let calc = RpcBus::serve(bus.unix(calc_api::SERVICE_NAME).await, calc_router()).unwrap();
    let _sensors = elbus_rpc::serve(
        bus.unix(sensors_api::SERVICE_NAME).await,
        sensors_api::router(),
    )
    .unwrap();
    let path = bus.unix.to_str().unwrap().to_owned();
    let dir = TempDir::new("codegen-live");
    // The live path of codegen: the schema read from the service itself.
    let live = {
        let (path, dir) = (path.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || {
            for (name, target) in [
                ("calc_client", "svc.calc"),
                ("sensors_client", "svc.sensors"),
            ] {
                let run = elbus(&[&path, "rpc", "codegen", target, "--python"], None);
                assert_generated(&run);
                std::fs::write(dir.join(format!("{name}.py")), &run.stdout).unwrap();
            }
            std::fs::read_to_string(dir.join("calc_client.py")).unwrap()
        })
        .await
        .unwrap()
    };
    let saved = TempDir::new("codegen-saved");
    let from_file = codegen(
        saved.path(),
        "calc_client",
        "svc.calc",
        &describe_json(&calc_router()),
    );
    assert_eq!(
        live, from_file,
        "codegen from the service and from its saved schema differ"
    );

    let module_dir = dir.path().to_str().unwrap().to_owned();
    let run = tokio::task::spawn_blocking(move || {
        let proxy = run_script(&script("typed_proxy.py"), &[&path], WAIT * 2);
        let agree = run_script(
            &script("typed_codegen_agree.py"),
            &[&module_dir, &path],
            WAIT * 2,
        );
        (proxy, agree)
    })
    .await
    .unwrap();
    for run in [&run.0, &run.1] {
        assert!(run.success(), "{run}");
        assert_eq!(run.stdout.trim(), "OK", "{run}");
    }
    assert_eq!(
        calc.router().open_streams(),
        0,
        "a Python cursor was left open"
    );
}
