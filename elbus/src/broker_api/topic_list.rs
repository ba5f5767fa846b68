//! The `.broker` method `topic.list` (elbus only): publication traffic per topic, from the
//! broker's fixed-size table ([`Broker::topic_stats`], at most
//! [`MAX_TRACKED_TOPICS`] topics one by one, the rest as `other`).
//!
//! Params: empty, or a map `{"limit": N}` (the N topics with the most bytes; default all).
//! Result: `{"topics": [ENTRY, ...], "other": TRAFFIC, "tracked": N, "max_tracked": 1024}`,
//! the topics by bytes, most first (ties by name), each ENTRY `{"topic", "publications",
//! "bytes", "deliveries", "delivered_bytes"}` and TRAFFIC the same without `topic`.

use serde::{Deserialize, Serialize};

use super::method_error::{encode, is_msgpack_map, MethodError};
use crate::broker::{Broker, TopicTraffic, MAX_TRACKED_TOPICS};
use crate::rpc::RPC_ERROR_CODE_PARSE as PARSE_ERROR;

#[derive(Serialize)]
struct TopicEntryReply<'a> {
    topic: &'a str,
    #[serde(flatten)]
    traffic: TrafficReply,
}

#[derive(Serialize)]
struct TrafficReply {
    publications: u64,
    bytes: u64,
    deliveries: u64,
    delivered_bytes: u64,
}

impl From<TopicTraffic> for TrafficReply {
    fn from(traffic: TopicTraffic) -> Self {
        TrafficReply {
            publications: traffic.publications,
            bytes: traffic.bytes,
            deliveries: traffic.deliveries,
            delivered_bytes: traffic.delivered_bytes,
        }
    }
}

#[derive(Serialize)]
struct TopicListReply<'a> {
    topics: Vec<TopicEntryReply<'a>>,
    other: TrafficReply,
    tracked: u64,
    max_tracked: u64,
}

#[derive(Deserialize, Default)]
struct TopicListParams {
    limit: Option<u64>,
}

/// Answers `topic.list` with `params` (see the module docs).
pub(super) fn topic_list(broker: &Broker, params: &[u8]) -> Result<Vec<u8>, MethodError> {
    let params: TopicListParams = if params.is_empty() {
        TopicListParams::default()
    } else if !is_msgpack_map(params) {
        return Err(MethodError::new(
            PARSE_ERROR,
            Some("params must be a map, as {\"limit\": 20}".to_owned()),
        ));
    } else {
        rmp_serde::from_slice(params)
            .map_err(|err| MethodError::new(PARSE_ERROR, Some(err.to_string())))?
    };
    let mut stats = broker.topic_stats();
    let tracked = stats.topics.len() as u64;
    stats
        .topics
        .sort_unstable_by(|(a, x), (b, y)| y.bytes.cmp(&x.bytes).then_with(|| a.cmp(b)));
    let limit = params.limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    });
    stats.topics.truncate(limit);
    encode(&TopicListReply {
        topics: stats
            .topics
            .iter()
            .map(|(topic, traffic)| TopicEntryReply {
                topic,
                traffic: (*traffic).into(),
            })
            .collect(),
        other: stats.other.into(),
        tracked,
        max_tracked: MAX_TRACKED_TOPICS as u64,
    })
}

#[cfg(test)]
mod tests {
    use crate::broker::Broker;
    use crate::{AsyncClient, QoS};

    #[tokio::test]
    async fn topics_by_bytes_with_limit_and_bad_params() {
        let broker = Broker::new();
        let publisher = broker.register_client("pub").unwrap();
        let subscriber = broker.register_client("sub").unwrap();
        subscriber.subscribe("a", QoS::No).await.unwrap();
        publisher.publish("a", b"xy", QoS::No).await.unwrap();
        publisher.publish("b", b"12345", QoS::No).await.unwrap();
        let call = |params: &[u8]| crate::broker_api::methods::call(&broker, b"topic.list", params);
        let value: rmpv::Value = rmp_serde::from_slice(&call(b"").unwrap()).unwrap();
        let topics = value["topics"].as_array().unwrap();
        let names: Vec<&str> = topics
            .iter()
            .map(|t| t["topic"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(topics[1]["publications"].as_u64(), Some(1));
        assert_eq!(topics[1]["bytes"].as_u64(), Some(2));
        assert_eq!(topics[1]["deliveries"].as_u64(), Some(1));
        assert_eq!(topics[0]["deliveries"].as_u64(), Some(0));
        assert_eq!(value["tracked"].as_u64(), Some(2));
        assert_eq!(value["max_tracked"].as_u64(), Some(1024));
        assert_eq!(value["other"]["publications"].as_u64(), Some(0));
        let limit = rmp_serde::to_vec_named(&std::collections::BTreeMap::from([("limit", 1)]));
        let value: rmpv::Value = rmp_serde::from_slice(&call(&limit.unwrap()).unwrap()).unwrap();
        assert_eq!(value["topics"].as_array().unwrap().len(), 1);
        assert_eq!(call(&[0x91, 0x01]).unwrap_err().code, -32700);
    }
}
