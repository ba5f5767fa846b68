//! The `tracing` feature over a real (embedded) broker: a captured subscriber sees one
//! `rpc.client` and one `rpc.server` span per call, with method, peer, result code and duration.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use elbus::broker::Broker;
use elbus::rpc::{DummyHandlers, RpcClient};
use elbus_rpc::{rpc, serve, CallError, RpcError, RpcRouter};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[derive(Debug, PartialEq, RpcError)]
pub enum MathError {
    /// Division by zero.
    #[rpc(code = 1001)]
    DivByZero,
}

#[rpc(namespace = "math")]
pub trait Math {
    /// Divides `a` by `b`.
    async fn div(&self, a: i64, b: i64) -> Result<i64, MathError>;
}

struct Impl;
impl Math for Impl {
    async fn div(&self, a: i64, b: i64) -> Result<i64, MathError> {
        a.checked_div(b).ok_or(MathError::DivByZero)
    }
}

/// A span as captured: its name and every field recorded on it, as text.
type Captured = Arc<Mutex<Vec<(Id, &'static str, BTreeMap<String, String>)>>>;

/// Records the spans of this crate, with their fields.
struct Capture(Captured);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if !attrs.metadata().name().starts_with("rpc.") {
            return;
        }
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let name = attrs.metadata().name();
        self.0.lock().unwrap().push((id.clone(), name, fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, _, fields)) = spans.iter_mut().find(|(span, _, _)| span == id) {
            values.record(&mut Fields(fields));
        }
    }
}

/// The spans named `name`, as their fields (the duration checked and dropped).
fn spans(captured: &Captured, name: &str) -> Vec<BTreeMap<String, String>> {
    let spans = captured.lock().unwrap();
    spans
        .iter()
        .filter(|(_, n, _)| *n == name)
        .map(|(_, _, fields)| {
            let mut fields = fields.clone();
            let duration = fields.remove("duration_us").expect("a duration");
            assert!(duration.parse::<u64>().is_ok(), "{duration}");
            fields
        })
        .collect()
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// One thread: the subscriber set below is this thread's default, and every task (broker,
// server, caller) runs on it.
#[tokio::test(flavor = "current_thread")]
async fn calls_make_client_and_server_spans() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(Capture(captured.clone()));
    let _default = tracing::subscriber::set_default(subscriber);

    let broker = Broker::new();
    let router = RpcRouter::new().service(Impl.into_handler());
    let _server = serve(broker.register_client("svc.math").unwrap(), router).unwrap();
    let rpc = RpcClient::new(broker.register_client("caller").unwrap(), DummyHandlers).unwrap();
    let math = MathClient::new(rpc, "svc.math");

    assert_eq!(math.div(6, 3).await, Ok(2));
    assert_eq!(
        math.div(1, 0).await,
        Err(CallError::App(MathError::DivByZero))
    );
    let nobody = MathClient::new(math.transport().clone(), "svc.nobody");
    assert!(matches!(
        nobody.div(1, 1).await,
        Err(CallError::Transport(_))
    ));

    assert_eq!(
        spans(&captured, "rpc.client"),
        [
            fields(&[
                ("method", "math.div"),
                ("target", "svc.math"),
                ("code", "0")
            ]),
            fields(&[
                ("method", "math.div"),
                ("target", "svc.math"),
                ("code", "1001")
            ]),
            fields(&[
                ("method", "math.div"),
                ("target", "svc.nobody"),
                ("code", "-32113")
            ]),
        ]
    );
    assert_eq!(
        spans(&captured, "rpc.server"),
        [
            fields(&[("method", "math.div"), ("sender", "caller"), ("code", "0")]),
            fields(&[
                ("method", "math.div"),
                ("sender", "caller"),
                ("code", "1001")
            ]),
        ]
    );
}
