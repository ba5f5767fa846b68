//! The `Sensors` service the `sensors_server` and `sensors_client` examples (and
//! `examples/sensors_client.py`) share: structs and enums as params and results, a typed error,
//! a slow method bounded by the caller's deadline, a router with a call limit.
//!
//! On the wire (MessagePack; structs are maps keyed by field name, enums their variant name):
//!
//! | method | params | result |
//! |---|---|---|
//! | `sensors.list` | none | `[{"id", "kind", "location"}]` |
//! | `sensors.read` | `{"id": str}` | `{"sensor", "value", "kind", "seq"}`; error 2001 unknown sensor, its fields `{"id"}` |
//! | `sensors.history` | `{"id": str, "limit": int}` (`limit` optional: all) | `[reading]` |
//! | `sensors.sample` | `{"id": str, "settle_ms": int}`, plus `"rpc.timeout_ms"` last | reading, after `settle_ms` |
//! | `sensors.calibrate` | `{"id": str, "table": bin}` (1 to 64 bytes) | int, the table's length; error 2002 `{"len", "max"}` |
//!
//! An error's text is its message, then (for variants with fields) a line `rpc-data: ` with the
//! hex of the MessagePack of its fields, which the Rust caller turns back into the variant.

// Each example uses part of the service.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use elbus_rpc::schemars::JsonSchema;
use elbus_rpc::{rpc, CallError, RpcRouter, RpcTransport};
use serde::{Deserialize, Serialize};

/// The bus name `sensors_server` registers.
pub const SERVICE_NAME: &str = "svc.sensors";
/// How many calls the server runs at once; more are refused with -32118 (busy).
pub const MAX_IN_FLIGHT: usize = 8;

/// What a sensor measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "elbus_rpc::schemars")]
pub enum Kind {
    /// Degrees Celsius.
    Temperature,
    /// Relative humidity, percent.
    Humidity,
}

/// A sensor the station knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "elbus_rpc::schemars")]
pub struct SensorInfo {
    /// Its id, as `read` takes it.
    pub id: String,
    /// What it measures.
    pub kind: Kind,
    /// Where it hangs, if recorded.
    pub location: Option<String>,
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "elbus_rpc::schemars")]
pub struct Reading {
    /// The sensor's id.
    pub sensor: String,
    /// The value, in the unit of `kind`.
    pub value: f64,
    /// What was measured.
    pub kind: Kind,
    /// The station's sample counter.
    pub seq: u64,
}

/// The longest calibration table `calibrate` takes.
pub const MAX_TABLE: u32 = 64;

/// What the station can fail with.
#[derive(Debug, PartialEq, elbus_rpc::RpcError)]
pub enum SensorError {
    /// No sensor has this id.
    #[rpc(code = 2001, message = "no sensor {id:?}")]
    UnknownSensor { id: String },
    /// A calibration table that is empty or too long.
    #[rpc(
        code = 2002,
        message = "a calibration table of {len} bytes (1 to {max})"
    )]
    TableSize { len: u32, max: u32 },
}

/// A weather station's sensors.
#[rpc(namespace = "sensors", version = "1.0")]
pub trait Sensors {
    /// Every sensor of the station.
    async fn list(&self) -> Result<Vec<SensorInfo>, SensorError>;
    /// The latest reading of sensor `id`.
    async fn read(&self, id: String) -> Result<Reading, SensorError>;
    /// The last `limit` readings of `id` (all when missing), oldest first.
    async fn history(&self, id: String, limit: Option<u32>) -> Result<Vec<Reading>, SensorError>;
    /// A fresh reading, taken after letting the sensor settle for `settle_ms`: slow, so callers
    /// send their deadline and the server stops it when they stop waiting.
    async fn sample(&self, id: String, settle_ms: u64) -> Result<Reading, SensorError>;
    /// Loads a calibration table (raw bytes, MessagePack `bin`) and returns its length.
    async fn calibrate(&self, id: String, #[rpc(bytes)] table: Vec<u8>)
        -> Result<u32, SensorError>;
}

/// The station: two fixed sensors and a sample counter.
pub struct Station {
    sensors: HashMap<String, SensorInfo>,
    seq: AtomicU64,
}

impl Default for Station {
    fn default() -> Self {
        let sensors = [
            ("t1", Kind::Temperature, Some("roof")),
            ("h1", Kind::Humidity, None),
        ]
        .into_iter()
        .map(|(id, kind, location)| {
            let info = SensorInfo {
                id: id.to_owned(),
                kind,
                location: location.map(str::to_owned),
            };
            (id.to_owned(), info)
        })
        .collect();
        Station {
            sensors,
            seq: AtomicU64::new(0),
        }
    }
}

impl Station {
    fn info(&self, id: &str) -> Result<&SensorInfo, SensorError> {
        self.sensors
            .get(id)
            .ok_or_else(|| SensorError::UnknownSensor { id: id.to_owned() })
    }

    /// A reading of `id` with sample number `seq` (a made-up but stable value).
    fn reading(&self, id: &str, seq: u64) -> Result<Reading, SensorError> {
        let info = self.info(id)?;
        let base = match info.kind {
            Kind::Temperature => 21.5,
            Kind::Humidity => 40.0,
        };
        Ok(Reading {
            sensor: info.id.clone(),
            value: base + (seq % 4) as f64 * 0.25,
            kind: info.kind,
            seq,
        })
    }
}

impl Sensors for Station {
    async fn list(&self) -> Result<Vec<SensorInfo>, SensorError> {
        let mut all: Vec<_> = self.sensors.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    async fn read(&self, id: String) -> Result<Reading, SensorError> {
        self.reading(&id, self.seq.load(Ordering::Relaxed))
    }

    async fn history(&self, id: String, limit: Option<u32>) -> Result<Vec<Reading>, SensorError> {
        let last = self.seq.load(Ordering::Relaxed);
        let count = limit.map_or(last + 1, |limit| u64::from(limit).min(last + 1));
        (last + 1 - count..=last)
            .map(|seq| self.reading(&id, seq))
            .collect()
    }

    async fn sample(&self, id: String, settle_ms: u64) -> Result<Reading, SensorError> {
        self.info(&id)?;
        // Stopped here by the router if the caller's deadline passes first.
        tokio::time::sleep(Duration::from_millis(settle_ms)).await;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.reading(&id, seq)
    }

    async fn calibrate(&self, id: String, table: Vec<u8>) -> Result<u32, SensorError> {
        self.info(&id)?;
        let len = u32::try_from(table.len()).unwrap_or(u32::MAX);
        if !(1..=MAX_TABLE).contains(&len) {
            return Err(SensorError::TableSize {
                len,
                max: MAX_TABLE,
            });
        }
        Ok(len)
    }
}

/// The router `sensors_server` serves: the station, at most [`MAX_IN_FLIGHT`] calls at once.
pub fn router() -> RpcRouter {
    RpcRouter::new()
        .service(Station::default().into_handler())
        .max_in_flight(MAX_IN_FLIGHT)
}

/// What `sensors_client` does, one printed line per step (the test compares them).
pub async fn tour<T: RpcTransport>(sensors: &SensorsClient<T>) -> Vec<String> {
    let mut lines = Vec::new();
    match sensors.list().await {
        Ok(list) => lines.push(format!(
            "list: {}",
            list.iter()
                .map(|s| format!("{}={:?}", s.id, s.kind))
                .collect::<Vec<_>>()
                .join(" ")
        )),
        Err(e) => lines.push(format!("list failed: {e}")),
    }
    match sensors.sample("t1".into(), 0).send_deadline().await {
        Ok(r) => lines.push(format!("sample: {} {} #{}", r.sensor, r.value, r.seq)),
        Err(e) => lines.push(format!("sample failed: {e}")),
    }
    match sensors.history("t1".into(), Some(2)).await {
        Ok(h) => lines.push(format!(
            "history: {}",
            h.iter()
                .map(|r| r.seq.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )),
        Err(e) => lines.push(format!("history failed: {e}")),
    }
    match sensors.read("x9".into()).await {
        Err(CallError::App(SensorError::UnknownSensor { id })) => {
            lines.push(format!("read x9: unknown sensor {id}"))
        }
        other => lines.push(format!("read x9: unexpected {other:?}")),
    }
    // The server stops the sampling when this call's 300 ms deadline passes.
    match sensors
        .sample("h1".into(), 60_000)
        .timeout(Duration::from_millis(300))
        .send_deadline()
        .await
    {
        Err(CallError::Timeout) => lines.push("slow sample: timed out".to_owned()),
        other => lines.push(format!("slow sample: unexpected {other:?}")),
    }
    match sensors.calibrate("t1".into(), vec![0, 1, 255]).await {
        Ok(len) => lines.push(format!("calibrate: {len} bytes")),
        Err(e) => lines.push(format!("calibrate failed: {e}")),
    }
    match sensors.calibrate("t1".into(), vec![7; 100]).await {
        Err(CallError::App(SensorError::TableSize { len, max })) => {
            lines.push(format!("calibrate 100: {len} > {max}"))
        }
        other => lines.push(format!("calibrate 100: unexpected {other:?}")),
    }
    lines
}
