//! One sample of a broker for `top`: its `.broker` `stats`, `client.list` and `topic.list`
//! replies, decoded. Keys a broker does not send (busrtd has no `queue_bytes`, no `topic.list`)
//! are `None`, not errors.

use serde::Deserialize;

use crate::cli::error::{rpc_error, CliError, Failure};
use crate::ipc::Client;
use crate::protocol::BROKER_NAME;
use crate::rpc::{RpcClient, RPC_ERROR_CODE_METHOD_NOT_FOUND};
use crate::QoS;

/// Broker-wide counters (`stats`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct Totals {
    pub uptime: u64,
    pub r_frames: u64,
    pub r_bytes: u64,
    pub w_frames: u64,
    pub w_bytes: u64,
    pub dropped_frames: Option<u64>,
    pub forced_disconnects: Option<u64>,
    pub clients: Option<u64>,
    pub denied: Option<u64>,
}

/// One `client.list` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct ClientSample {
    pub name: String,
    pub kind: String,
    pub r_frames: u64,
    pub r_bytes: u64,
    pub w_frames: u64,
    pub w_bytes: u64,
    pub queue: u64,
    pub queue_bytes: Option<u64>,
    pub dropped_frames: Option<u64>,
    pub denied: Option<u64>,
}

/// The traffic counters of a `topic.list` entry (or of its `other`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct Traffic {
    pub publications: u64,
    pub bytes: u64,
    pub deliveries: u64,
    pub delivered_bytes: u64,
}

/// One `topic.list` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct TopicSample {
    pub topic: String,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// The `topic.list` reply.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct Topics {
    pub topics: Vec<TopicSample>,
    pub other: Traffic,
    pub tracked: u64,
    pub max_tracked: u64,
}

/// Everything `top` shows, read once.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sample {
    pub totals: Totals,
    /// The clients, the CLI's own connection left out.
    pub clients: Vec<ClientSample>,
    /// `None` when the broker has no `topic.list` (busrtd).
    pub topics: Option<Topics>,
}

#[derive(Deserialize)]
struct ClientList {
    clients: Vec<ClientSample>,
}

/// Reads one sample from the broker behind `rpc`; `own_name` (the CLI's client) is left out.
pub(crate) async fn fetch(rpc: &RpcClient<Client>, own_name: &str) -> Result<Sample, CliError> {
    let totals: Totals = call(rpc, "stats").await?;
    let mut list: ClientList = call(rpc, "client.list").await?;
    list.clients.retain(|client| client.name != own_name);
    let topics = match call::<Topics>(rpc, "topic.list").await {
        Ok(topics) => Some(topics),
        Err(Missing::Method) => None,
        Err(Missing::Other(err)) => return Err(err),
    };
    Ok(Sample {
        totals,
        clients: list.clients,
        topics,
    })
}

/// Why a `.broker` call gave no value.
enum Missing {
    /// The broker does not have the method.
    Method,
    Other(CliError),
}

impl From<Missing> for CliError {
    fn from(missing: Missing) -> Self {
        match missing {
            Missing::Method => CliError::new(Failure::Other, "the broker lacks a method"),
            Missing::Other(err) => err,
        }
    }
}

async fn call<T: for<'de> Deserialize<'de>>(
    rpc: &RpcClient<Client>,
    method: &str,
) -> Result<T, Missing> {
    let reply = match rpc.call(BROKER_NAME, method, &[], QoS::Processed).await {
        Ok(reply) => reply,
        Err(err) if err.code() == RPC_ERROR_CODE_METHOD_NOT_FOUND => return Err(Missing::Method),
        Err(err) => {
            return Err(Missing::Other(rpc_error(
                format!("call {BROKER_NAME} {method}"),
                &err,
            )))
        }
    };
    rmp_serde::from_slice(reply.payload()).map_err(|err| {
        Missing::Other(CliError::new(
            Failure::Other,
            format!("{BROKER_NAME} {method}: unexpected reply: {err}"),
        ))
    })
}
