//! The `.broker` RPC methods (`protocol.md` §8.8): `test`, `info`, `stats`, `client.list` and
//! `benchmark.test`, with results byte-compatible with the original broker, elbus's
//! administrative `client.disconnect` and its `topic.list` (in `topic_list`), and, on a broker
//! joined to a federation, `node.list` and `federation.status` (`elbus::federation`; -32601
//! when federation is off).
//!
//! `client.disconnect` takes `{"name": "<client name>"}`, force-disconnects that socket client
//! (with its secondaries; [`Broker::force_disconnect`]) and answers `{"ok": true}`; an unknown
//! name gives -32113, an in-process client -32117. Only trusted callers may use it (see
//! [`may_administer`]); anyone else gets -32121 (access denied). It is how live connections are
//! made to reconnect under reloaded access-control rules.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::broker::stats::ApiCounters;
use crate::broker::{Broker, ClientInfo, ClientKind};
use crate::rpc::bus_code;
use crate::ErrorKind;

pub use super::method_error::MethodError;
use super::method_error::{encode, is_msgpack_map};

// The standard codes the methods answer with, from the one code table (`rpc::error`).
use crate::rpc::{
    RPC_ERROR_CODE_INVALID_METHOD_PARAMS as INVALID_PARAMS,
    RPC_ERROR_CODE_METHOD_NOT_FOUND as METHOD_NOT_FOUND, RPC_ERROR_CODE_PARSE as PARSE_ERROR,
};

/// Longest `client.list` filter regex accepted, compiled size in bytes: a filter is a short
/// name pattern, and the limit keeps a hostile one from costing memory.
const FILTER_SIZE_LIMIT: usize = 1 << 20;

#[derive(Serialize)]
struct TestReply {
    ok: bool,
}

#[derive(Serialize)]
struct InfoReply<'a> {
    author: &'a str,
    version: &'a str,
}

/// The `stats` result: the original's five keys first, in their order, then elbus's own.
#[derive(Serialize)]
struct StatsReply {
    uptime: u64,
    r_frames: u64,
    r_bytes: u64,
    w_frames: u64,
    w_bytes: u64,
    dropped_frames: u64,
    forced_disconnects: u64,
    clients: u64,
    denied: u64,
    /// Expensive `.broker` calls refused (or, with call id 0, dropped) because their caller or
    /// the broker had too many queued.
    api_calls_refused: u64,
    /// Queued expensive `.broker` calls dropped unrun because their caller had disconnected.
    api_calls_abandoned: u64,
}

/// One `client.list` entry: the original's ten keys first, in their order, then elbus's own.
#[derive(Serialize)]
struct ClientEntryReply<'a> {
    name: &'a str,
    kind: &'a str,
    source: Option<&'a str>,
    port: Option<&'a str>,
    r_frames: u64,
    r_bytes: u64,
    w_frames: u64,
    w_bytes: u64,
    queue: u64,
    instances: u64,
    dropped_frames: u64,
    forced_disconnects: u64,
    /// The peer's uid, gid and pid (UNIX clients; nil for TCP and in-process ones).
    uid: Option<u32>,
    gid: Option<u32>,
    pid: Option<i32>,
    /// Operations refused by the access-control rules.
    denied: u64,
    /// What the frames counted in `queue` cost, wire bytes plus 112 each (`--queue-bytes`).
    queue_bytes: u64,
}

impl<'a> ClientEntryReply<'a> {
    /// A name registered on another node (`name@node`): no counters, nothing about its peer.
    fn remote(name: &'a str) -> Self {
        ClientEntryReply {
            name,
            kind: "remote",
            source: None,
            port: None,
            r_frames: 0,
            r_bytes: 0,
            w_frames: 0,
            w_bytes: 0,
            queue: 0,
            instances: 1,
            dropped_frames: 0,
            forced_disconnects: 0,
            uid: None,
            gid: None,
            pid: None,
            denied: 0,
            queue_bytes: 0,
        }
    }
}

#[derive(Serialize)]
struct ClientListReply<'a> {
    clients: Vec<ClientEntryReply<'a>>,
}

#[derive(Deserialize, Default)]
struct ClientListParams {
    filter: Option<String>,
    /// Also list the names registered on the other nodes of the federation, as `name@node`.
    #[serde(default)]
    remote: bool,
}

#[derive(Deserialize)]
struct DisconnectParams {
    name: String,
}

/// Calls the `.broker` method `method` with `params` as the broker itself (every method is
/// allowed); returns the MessagePack result.
pub fn call(broker: &Broker, method: &[u8], params: &[u8]) -> Result<Vec<u8>, MethodError> {
    call_from(broker, None, method, params)
}

/// Calls the `.broker` method `method` with `params` on behalf of the client `caller` (its full
/// name; `None`: the broker itself). Administrative methods check the caller with
/// [`may_administer`].
pub fn call_from(
    broker: &Broker,
    caller: Option<&str>,
    method: &[u8],
    params: &[u8],
) -> Result<Vec<u8>, MethodError> {
    call_with_stats(broker, caller, method, params, None)
}

/// [`call_from`], with the counters of the running `.broker` client for `stats`.
pub(crate) fn call_with_stats(
    broker: &Broker,
    caller: Option<&str>,
    method: &[u8],
    params: &[u8],
    api: Option<&ApiCounters>,
) -> Result<Vec<u8>, MethodError> {
    let Ok(method) = std::str::from_utf8(method) else {
        return Err(MethodError::new(bus_code(ErrorKind::Data), None));
    };
    match method {
        "test" => {
            no_params(params)?;
            encode(&TestReply { ok: true })
        }
        "info" => {
            no_params(params)?;
            encode(&InfoReply {
                author: crate::AUTHOR,
                version: crate::VERSION,
            })
        }
        "stats" => {
            no_params(params)?;
            let stats = broker.stats();
            encode(&StatsReply {
                uptime: stats.uptime,
                r_frames: stats.counters.r_frames,
                r_bytes: stats.counters.r_bytes,
                w_frames: stats.counters.w_frames,
                w_bytes: stats.counters.w_bytes,
                dropped_frames: stats.counters.dropped_frames,
                forced_disconnects: stats.counters.forced_disconnects,
                clients: stats.clients as u64,
                denied: stats.counters.denied,
                api_calls_refused: api.map_or(0, |api| api.refused.load(Ordering::Relaxed)),
                api_calls_abandoned: api.map_or(0, |api| api.abandoned.load(Ordering::Relaxed)),
            })
        }
        "client.list" => client_list(broker, params),
        "topic.list" => super::topic_list::topic_list(broker, params),
        "client.disconnect" => {
            if !caller.is_none_or(|caller| may_administer(broker, caller)) {
                return Err(MethodError::new(
                    bus_code(ErrorKind::Access),
                    Some("client.disconnect: permission denied".to_owned()),
                ));
            }
            client_disconnect(broker, params)
        }
        "benchmark.test" => Ok(params.to_vec()),
        "node.list" | "federation.status" => {
            no_params(params)?;
            let Some(remote) = broker.remote_route() else {
                return Err(MethodError::new(
                    METHOD_NOT_FOUND,
                    Some(format!("{method}: federation is off")),
                ));
            };
            Ok(if method == "node.list" {
                remote.node_list()
            } else {
                remote.status()
            })
        }
        _ => Err(MethodError::new(METHOD_NOT_FOUND, None)),
    }
}

/// `test`, `info` and `stats` take no params: an empty payload, or an empty MessagePack map
/// (which the original elbus accepted and some clients send).
fn no_params(params: &[u8]) -> Result<(), MethodError> {
    if params.is_empty() || params == [0x80] {
        Ok(())
    } else {
        Err(MethodError::new(
            INVALID_PARAMS,
            Some("this method takes no params".to_owned()),
        ))
    }
}

fn client_list(broker: &Broker, params: &[u8]) -> Result<Vec<u8>, MethodError> {
    let params: ClientListParams = if params.is_empty() {
        ClientListParams::default()
    } else if !is_msgpack_map(params) {
        return Err(MethodError::new(
            PARSE_ERROR,
            Some("params must be a map, as {\"filter\": \"regex\"}".to_owned()),
        ));
    } else {
        rmp_serde::from_slice(params)
            .map_err(|err| MethodError::new(PARSE_ERROR, Some(err.to_string())))?
    };
    let filter = params
        .filter
        .map(|pattern| {
            regex::RegexBuilder::new(&pattern)
                .size_limit(FILTER_SIZE_LIMIT)
                .build()
                .map_err(|err| MethodError::new(PARSE_ERROR, Some(err.to_string())))
        })
        .transpose()?;
    let wanted = |name: &str| filter.as_ref().is_none_or(|re| re.is_match(name));
    let clients: Vec<ClientInfo> = broker
        .client_list()
        .into_iter()
        .filter(|c| wanted(&c.name))
        .collect();
    let remote_names: Vec<String> = match (params.remote, broker.remote_route()) {
        (true, Some(remote)) => remote.remote_names(),
        _ => Vec::new(),
    };
    encode(&ClientListReply {
        clients: clients
            .iter()
            .map(|c| ClientEntryReply {
                name: &c.name,
                kind: c.kind.as_str(),
                source: c.source.as_deref(),
                port: c.port.as_deref(),
                r_frames: c.counters.r_frames,
                r_bytes: c.counters.r_bytes,
                w_frames: c.counters.w_frames,
                w_bytes: c.counters.w_bytes,
                queue: c.queue as u64,
                instances: c.instances as u64,
                dropped_frames: c.counters.dropped_frames,
                forced_disconnects: c.counters.forced_disconnects,
                uid: c.credentials.map(|cred| cred.uid),
                gid: c.credentials.map(|cred| cred.gid),
                pid: c.credentials.and_then(|cred| cred.pid),
                denied: c.counters.denied,
                queue_bytes: c.queue_bytes as u64,
            })
            .chain(
                remote_names
                    .iter()
                    .filter(|name| wanted(name))
                    .map(|name| ClientEntryReply::remote(name)),
            )
            .collect(),
    })
}

/// Whether the client `caller` (a full name) may use the administrative methods: the broker's
/// own in-process clients; socket clients whose access-control rule says `admin = true`; and
/// UNIX clients running as root or as the broker's own user, who could signal or trace the
/// broker process anyway. Everyone else, every TCP client without an `admin` rule included, may
/// not: without an access-control file only root and the broker's user can.
pub fn may_administer(broker: &Broker, caller: &str) -> bool {
    let Some(info) = broker.client_info(caller) else {
        return false;
    };
    if info.kind == ClientKind::Internal || info.admin {
        return true;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    info.credentials
        .is_some_and(|cred| cred.uid == 0 || cred.uid == euid)
}

fn client_disconnect(broker: &Broker, params: &[u8]) -> Result<Vec<u8>, MethodError> {
    if !is_msgpack_map(params) {
        return Err(MethodError::new(
            INVALID_PARAMS,
            Some("params must be a map, as {\"name\": \"client\"}".to_owned()),
        ));
    }
    let params: DisconnectParams = rmp_serde::from_slice(params)
        .map_err(|err| MethodError::new(INVALID_PARAMS, Some(err.to_string())))?;
    broker
        .force_disconnect(&params.name)
        .map_err(|err| MethodError::new(bus_code(err.kind()), Some(err.to_string())))?;
    encode(&TestReply { ok: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker() -> Broker {
        Broker::new()
    }

    #[test]
    fn test_method_bytes() {
        assert_eq!(
            call(&broker(), b"test", b"").unwrap(),
            [0x81, 0xA2, b'o', b'k', 0xC3]
        );
        assert_eq!(call(&broker(), b"test", &[0x80]).unwrap().len(), 5);
        let err = call(&broker(), b"test", &[0x81, 0xA1, b'a', 0x01]).unwrap_err();
        assert_eq!(err.code, -32602);
    }

    #[test]
    fn info_method_bytes() {
        let reply = call(&broker(), b"info", b"").unwrap();
        let mut expected = vec![0x82, 0xA6];
        expected.extend_from_slice(b"author");
        expected.extend_from_slice(&[0xD9, 0x27]);
        expected.extend_from_slice(crate::AUTHOR.as_bytes());
        expected.push(0xA7);
        expected.extend_from_slice(b"version");
        expected.push(0xA0 | crate::VERSION.len() as u8);
        expected.extend_from_slice(crate::VERSION.as_bytes());
        assert_eq!(reply, expected);
    }

    #[test]
    fn unknown_and_non_utf8_methods() {
        assert_eq!(
            call(&broker(), b"nope", b"").unwrap_err(),
            MethodError::new(-32601, None)
        );
        assert_eq!(call(&broker(), b"\xff", b"").unwrap_err().code, -32114);
    }

    #[test]
    fn benchmark_test_echoes() {
        assert_eq!(
            call(&broker(), b"benchmark.test", b"\x01\x02").unwrap(),
            b"\x01\x02"
        );
    }

    #[tokio::test]
    async fn stats_keys_in_order() {
        let reply = call(&broker(), b"stats", b"").unwrap();
        // 11 keys; the first five are the original's, in order, and `uptime` is 0 (fixint).
        assert_eq!(reply[0], 0x8B);
        assert_eq!(&reply[1..8], b"\xa6uptime");
        assert_eq!(reply[8], 0x00);
        assert_eq!(&reply[9..18], b"\xa8r_frames");
    }

    #[tokio::test]
    async fn client_list_entries_filter_and_errors() {
        let broker = broker();
        let _b = broker.register_client("zeta").unwrap();
        let _a = broker.register_client("alpha").unwrap();
        let reply = call(&broker, b"client.list", b"").unwrap();
        let value: rmpv::Value = rmp_serde::from_slice(&reply).unwrap();
        let clients = value["clients"].as_array().unwrap();
        let names: Vec<&str> = clients
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["alpha", "zeta"]);
        let first = clients[0].as_map().unwrap();
        let keys: Vec<&str> = first.iter().map(|(k, _)| k.as_str().unwrap()).collect();
        assert_eq!(
            &keys[..10],
            [
                "name",
                "kind",
                "source",
                "port",
                "r_frames",
                "r_bytes",
                "w_frames",
                "w_bytes",
                "queue",
                "instances"
            ]
        );
        assert!(clients[0]["source"].is_nil());
        let filter = rmp_serde::to_vec_named(&serde_json_like_filter("^z")).unwrap();
        let reply = call(&broker, b"client.list", &filter).unwrap();
        let value: rmpv::Value = rmp_serde::from_slice(&reply).unwrap();
        assert_eq!(value["clients"].as_array().unwrap().len(), 1);
        let bad = rmp_serde::to_vec_named(&serde_json_like_filter("(")).unwrap();
        assert_eq!(
            call(&broker, b"client.list", &bad).unwrap_err().code,
            -32700
        );
        assert_eq!(
            call(&broker, b"client.list", &[0x91, 0x01])
                .unwrap_err()
                .code,
            -32700
        );
    }

    #[tokio::test]
    async fn client_disconnect_checks_the_caller_and_the_target() {
        let broker = broker();
        let _internal = broker.register_client("alpha").unwrap();
        let params =
            rmp_serde::to_vec_named(&std::collections::BTreeMap::from([("name", "alpha")]))
                .unwrap();
        // An unregistered caller is nobody the broker trusts.
        let err = call_from(&broker, Some("ghost"), b"client.disconnect", &params).unwrap_err();
        assert_eq!(err.code, -32121);
        // In-process callers are trusted; in-process targets cannot be disconnected.
        let err = call_from(&broker, Some("alpha"), b"client.disconnect", &params).unwrap_err();
        assert_eq!(err.code, -32117);
        let missing =
            rmp_serde::to_vec_named(&std::collections::BTreeMap::from([("name", "nope")])).unwrap();
        assert_eq!(
            call(&broker, b"client.disconnect", &missing)
                .unwrap_err()
                .code,
            -32113
        );
        assert_eq!(
            call(&broker, b"client.disconnect", b"").unwrap_err().code,
            -32602
        );
    }

    fn serde_json_like_filter(pattern: &str) -> std::collections::BTreeMap<&str, &str> {
        std::collections::BTreeMap::from([("filter", pattern)])
    }
}
