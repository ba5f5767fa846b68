//! The socket client's hot paths against an embedded broker on a UNIX socket: an operation and
//! its ACK, a byte RPC call through a second client's handler, and a 1 MiB operation (the gather
//! write and the byte budget of the outbound queue).
//!
//! Each iteration is the whole path through real sockets (client writer, broker session, client
//! reader), on one current-thread runtime, so the numbers are CPU cost plus the kernel's socket
//! path, not scheduling luck between threads.
//!
//! Run with `cargo bench -p elbus --bench client_ops`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use elbus::broker::{Broker, ServerConfig};
use elbus::ipc::{Client, Config};
use elbus::rpc::{RpcClient, RpcEvent, RpcHandlers, RpcResult};
use elbus::{AsyncClient, QoS};
use tokio::runtime::Runtime;

/// Echoes the params of every call.
struct Echo;

impl RpcHandlers for Echo {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        Ok(Some(event.payload().to_vec()))
    }
}

/// An embedded broker on a fresh socket, a plain client, and an RPC caller and server.
struct Setup {
    _broker: Broker,
    client: Client,
    caller: RpcClient<Client>,
    _server: RpcClient<Client>,
    path: PathBuf,
}

impl Setup {
    fn new(rt: &Runtime) -> Setup {
        let path = std::env::temp_dir().join(format!("elbus-bench-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        rt.block_on(async {
            let broker = Broker::new();
            broker
                .spawn_unix_server(&path, ServerConfig::new())
                .await
                .expect("the broker listens");
            let config = |name: &str| Config::new(path.to_str().expect("UTF-8 path"), name);
            let connect = |name: &'static str| {
                let config = config(name);
                async move { Client::connect(&config).await.expect("connects") }
            };
            let client = connect("bench.plain").await;
            let caller = RpcClient::new(connect("bench.caller").await, Echo).expect("rpc");
            let server = RpcClient::new(connect("bench.server").await, Echo).expect("rpc");
            Setup {
                _broker: broker,
                client,
                caller,
                _server: server,
                path: path.clone(),
            }
        })
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn client_ops(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let setup = Setup::new(&rt);
    let small = vec![0xEEu8; 100];
    let large = vec![0xEEu8; 1 << 20];
    let mut group = c.benchmark_group("client_ops");
    group.measurement_time(Duration::from_secs(3));
    // A publication nobody subscribes to, and its ACK: the client's whole send path.
    group.bench_function("publish_ack_100b", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let confirm = setup.client.publish("bench/t", &small, QoS::Processed);
                    confirm.await.expect("queued").await.expect("acked");
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("publish_ack_1mib", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let confirm = setup.client.publish("bench/t", &large, QoS::Processed);
                    confirm.await.expect("queued").await.expect("acked");
                }
                start.elapsed()
            })
        })
    });
    // A call through the broker to the server's handler and back: ACK, request, reply.
    group.bench_function("rpc_call_100b", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let reply = setup
                        .caller
                        .call("bench.server", "echo", &small, QoS::Processed)
                        .await
                        .expect("a reply");
                    black_box(reply);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, client_ops);
criterion_main!(benches);
