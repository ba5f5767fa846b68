//! Error variants that carry data, over a real bus: a typed Rust caller gets each variant back
//! with its fields (embedded broker, in-process clients), and a Python `busrt` peer calling
//! through `elbusd` reads the human message on the first line of the error text and the fields
//! from its `rpc-data:` line (`tests/interop/typed_error_data.py`).

use elbus::rpc::{DummyHandlers, RpcClient};
use elbus_rpc::{rpc, serve, CallError, RpcError, RpcRouter};
use elbus_suite::rpc::{within, Bus};
use elbus_suite::typed::python_calls_router;

/// The bus name the gauge service is registered under.
const SVC: &str = "svc.gauge";

/// What setting a gauge can fail with: one variant of each shape.
#[derive(Debug, Clone, PartialEq, Eq, RpcError)]
pub enum GaugeError {
    /// The value lies outside the gauge's range.
    #[rpc(code = 10, message = "value {value} out of range {min}..{max}")]
    OutOfRange { value: i64, min: i64, max: i64 },
    /// The device failed; the `String` is the message.
    #[rpc(code = 11)]
    Io(String),
    /// Two channels disagree.
    #[rpc(code = 12, message = "channels {0} and {1} disagree")]
    Pair(u8, u8),
    /// The gauge is switched off.
    #[rpc(code = 13)]
    Off,
    /// A calibration failed (its fields travel behind the doc comment's message).
    #[rpc(code = 14)]
    Calibration { step: u32, reason: String },
}

/// A gauge that fails on purpose.
#[rpc(namespace = "gauge")]
pub trait Gauge {
    /// Fails with the variant named by `which`.
    async fn fail(&self, which: String) -> Result<(), GaugeError>;
}

struct FailingGauge;

impl Gauge for FailingGauge {
    async fn fail(&self, which: String) -> Result<(), GaugeError> {
        Err(match which.as_str() {
            "range" => GaugeError::OutOfRange {
                value: 12,
                min: 0,
                max: 10,
            },
            "io" => GaugeError::Io("disk gone: ½".into()),
            "pair" => GaugeError::Pair(3, 4),
            "off" => GaugeError::Off,
            _ => GaugeError::Calibration {
                step: 7,
                reason: "drift".into(),
            },
        })
    }
}

fn router() -> RpcRouter {
    RpcRouter::new().service(FailingGauge.into_handler())
}

#[tokio::test]
async fn rust_caller_gets_each_variant_back_with_its_fields() {
    let bus = Bus::start().await;
    let _server = serve(bus.local(SVC), router()).unwrap();
    let rpc = RpcClient::new(bus.local("caller"), DummyHandlers).unwrap();
    let gauge = GaugeClient::new(rpc.clone(), SVC);

    let expected = [
        (
            "range",
            GaugeError::OutOfRange {
                value: 12,
                min: 0,
                max: 10,
            },
        ),
        ("io", GaugeError::Io("disk gone: ½".into())),
        ("pair", GaugeError::Pair(3, 4)),
        ("off", GaugeError::Off),
        (
            "calibration",
            GaugeError::Calibration {
                step: 7,
                reason: "drift".into(),
            },
        ),
    ];
    for (which, error) in expected {
        assert_eq!(
            within("the gauge", gauge.fail(which.into()).send()).await,
            Err(CallError::App(error)),
            "{which}"
        );
    }

    // The wire text itself: the message first, the fields' MessagePack in hex after it.
    let params = rmp_serde::to_vec_named(&serde_json_like("range")).unwrap();
    let err = rpc
        .call(SVC, "gauge.fail", &params, elbus::QoS::Processed)
        .await
        .unwrap_err();
    let text = String::from_utf8(err.data().unwrap_or_default().to_vec()).unwrap();
    let (message, data) = elbus_rpc::split_error_text(&text);
    assert_eq!(message, "value 12 out of range 0..10");
    let fields: std::collections::BTreeMap<String, i64> =
        rmp_serde::from_slice(&data.expect("an rpc-data line")).unwrap();
    assert_eq!(
        fields,
        [("max", 10), ("min", 0), ("value", 12)]
            .map(|(k, v)| (k.to_owned(), v))
            .into()
    );
}

/// The params map `{"which": which}`.
fn serde_json_like(which: &str) -> std::collections::BTreeMap<&'static str, &str> {
    [("which", which)].into()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_peer_reads_the_message_and_the_fields() {
    python_calls_router(
        env!("CARGO_BIN_EXE_elbusd"),
        "typed_error_data.py",
        SVC,
        router(),
    )
    .await;
}
