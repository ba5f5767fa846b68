//! A typed call against a hand-written byte RPC call carrying the same data, over the embedded
//! broker (in-process clients and UNIX socket clients).
//!
//! ```text
//! cargo bench -p elbus-rpc --bench typed_vs_raw
//! ```
//!
//! For each payload, three round trips caller → broker → service → broker → caller:
//!
//! * `typed`: `CalcClient::add(a, b).await`, served by the generated handler on an `RpcRouter`;
//! * `raw`: what one writes by hand on `elbus::rpc`: `rmp_serde::to_vec_named` of a params
//!   struct, `RpcClient::call`, a `RpcHandlers` matching the method and decoding the params,
//!   and the reply decoded on the way back (the same bytes on the wire as `typed`);
//! * `bytes`: the raw call with pre-encoded params and a constant reply (no MessagePack at all),
//!   the floor both are measured against.
//!
//! Each sample runs its calls one after another inside one `block_on`, so the runtime's entry
//! cost is not part of a call.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use elbus::broker::{Broker, ServerConfig};
use elbus::rpc::{self, DummyHandlers, RpcClient, RpcError, RpcEvent, RpcHandlers, RpcResult};
use elbus::{ipc, AsyncClient, QoS};
use elbus_rpc::{rpc, RpcError as DeriveRpcError, RpcRouter};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

/// The benchmark service's error.
#[derive(Debug, DeriveRpcError)]
pub enum BenchError {
    /// The result does not fit.
    #[rpc(code = 1001)]
    Overflow,
}

/// The benchmark service.
#[rpc(namespace = "calc")]
pub trait Calc {
    /// Adds two numbers: a small payload.
    async fn add(&self, a: i64, b: i64) -> Result<i64, BenchError>;
    /// Sums a list: a 1000-element payload.
    async fn sum(&self, xs: Vec<i64>) -> Result<i64, BenchError>;
}

struct Typed;

impl Calc for Typed {
    async fn add(&self, a: i64, b: i64) -> Result<i64, BenchError> {
        a.checked_add(b).ok_or(BenchError::Overflow)
    }
    async fn sum(&self, xs: Vec<i64>) -> Result<i64, BenchError> {
        xs.iter()
            .try_fold(0i64, |acc, x| acc.checked_add(*x))
            .ok_or(BenchError::Overflow)
    }
}

#[derive(Serialize, Deserialize)]
struct AddParams {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize)]
struct SumParams {
    xs: Vec<i64>,
}

/// The same service written by hand on the byte layer.
struct Raw;

impl RpcHandlers for Raw {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        match event.parse_method()? {
            "calc.add" => {
                let p: AddParams = rpc::from_msgpack(event.payload())?;
                let sum =
                    p.a.checked_add(p.b)
                        .ok_or_else(|| RpcError::with_message(1001, "The result does not fit."))?;
                rpc::to_msgpack(&sum).map(Some)
            }
            "calc.sum" => {
                let p: SumParams = rpc::from_msgpack(event.payload())?;
                rpc::to_msgpack(&p.xs.iter().sum::<i64>()).map(Some)
            }
            // The floor: no MessagePack either way.
            "bytes" => Ok(Some(vec![0x2a])),
            _ => Err(RpcError::method(None)),
        }
    }
}

/// Runs `iters` calls of `call` in a row on `rt` and returns the time they took.
fn time<F, Fut>(rt: &Runtime, iters: u64, mut call: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            call().await;
        }
        start.elapsed()
    })
}

/// The three variants for one transport, the clients given by `connect(name)`.
fn bench_transport<C, F>(c: &mut Criterion, rt: &Runtime, label: &str, connect: F)
where
    C: AsyncClient + 'static,
    F: Fn(&str) -> C,
{
    // Clients and RPC clients spawn their tasks on `rt`.
    let _guard = rt.enter();
    let router = RpcRouter::new().service(Typed.into_handler());
    let _typed_server = elbus_rpc::serve(connect("bench.typed"), router).unwrap();
    let _raw_server = RpcClient::new(connect("bench.raw"), Raw).unwrap();
    let caller = RpcClient::new(connect("bench.caller"), DummyHandlers).unwrap();
    let calc = CalcClient::new(caller.clone(), "bench.typed");
    let xs: Vec<i64> = (0..1000).collect();
    let bytes_params = rpc::to_msgpack(&AddParams { a: 40, b: 2 }).unwrap();

    interleaved(rt, label, &calc, &caller);

    let mut group = c.benchmark_group(format!("{label}/add"));
    group.bench_function("typed", |b| {
        b.iter_custom(|iters| {
            time(rt, iters, || async {
                assert_eq!(calc.add(40, 2).await.unwrap(), 42);
            })
        })
    });
    group.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            time(rt, iters, || async {
                let params = rpc::to_msgpack(&AddParams { a: 40, b: 2 }).unwrap();
                let reply = caller
                    .call("bench.raw", "calc.add", &params, QoS::Processed)
                    .await
                    .unwrap();
                assert_eq!(rpc::from_msgpack::<i64>(reply.payload()).unwrap(), 42);
            })
        })
    });
    group.bench_function("bytes", |b| {
        b.iter_custom(|iters| {
            time(rt, iters, || async {
                let reply = caller
                    .call("bench.raw", "bytes", &bytes_params, QoS::Processed)
                    .await
                    .unwrap();
                assert_eq!(reply.payload(), [0x2a]);
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{label}/sum1000"));
    group.bench_function("typed", |b| {
        b.iter_custom(|iters| {
            time(rt, iters, || async {
                assert_eq!(calc.sum(xs.clone()).await.unwrap(), 499_500);
            })
        })
    });
    group.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            time(rt, iters, || async {
                let params = rpc::to_msgpack(&SumParams { xs: xs.clone() }).unwrap();
                let reply = caller
                    .call("bench.raw", "calc.sum", &params, QoS::Processed)
                    .await
                    .unwrap();
                assert_eq!(rpc::from_msgpack::<i64>(reply.payload()).unwrap(), 499_500);
            })
        })
    });
    group.finish();
}

/// How many calls one interleaved batch makes, and how many batches of each kind run.
const BATCH: u64 = 2_000;
const ROUNDS: usize = 15;

/// Prints the typed/raw ratio of the median per-call times of interleaved batches, for each
/// payload. On a shared machine the load drifts between criterion's separate measurements;
/// alternating typed and raw batches exposes both to the same drift.
fn interleaved<C: AsyncClient + 'static>(
    rt: &Runtime,
    label: &str,
    calc: &CalcClient<RpcClient<C>>,
    caller: &RpcClient<C>,
) {
    let xs: Vec<i64> = (0..1000).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    for payload in ["add", "sum1000"] {
        let (mut typed, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let t = time(rt, BATCH, || async {
                match payload {
                    "add" => assert_eq!(calc.add(40, 2).await.unwrap(), 42),
                    _ => assert_eq!(calc.sum(xs.clone()).await.unwrap(), 499_500),
                }
            });
            typed.push(t.as_secs_f64() * 1e6 / BATCH as f64);
            let t = time(rt, BATCH, || async {
                let (method, params) = match payload {
                    "add" => ("calc.add", rpc::to_msgpack(&AddParams { a: 40, b: 2 })),
                    _ => ("calc.sum", rpc::to_msgpack(&SumParams { xs: xs.clone() })),
                };
                let reply = caller
                    .call("bench.raw", method, &params.unwrap(), QoS::Processed)
                    .await
                    .unwrap();
                let _: i64 = rpc::from_msgpack(reply.payload()).unwrap();
            });
            raw.push(t.as_secs_f64() * 1e6 / BATCH as f64);
        }
        let (typed, raw) = (median(typed), median(raw));
        println!(
            "{label}/{payload}: typed {typed:.2} µs, raw {raw:.2} µs per call (interleaved medians), \
             typed/raw = {:.3}",
            typed / raw
        );
    }
}

fn typed_vs_raw(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let broker = Broker::new();
    bench_transport(c, &rt, "in_process", |name| {
        broker.register_client(name).unwrap()
    });

    let dir = std::env::temp_dir().join(format!("elbus-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.sock");
    rt.block_on(broker.spawn_unix_server(&path, ServerConfig::new()))
        .unwrap();
    let path = path.to_str().unwrap().to_owned();
    bench_transport(c, &rt, "unix", |name| {
        rt.block_on(ipc::Client::connect(&ipc::Config::new(&path, name)))
            .unwrap()
    });
    broker.stop_listeners();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    // A short run: two shared cores, and the ratio is what matters.
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = typed_vs_raw
}
criterion_main!(benches);
