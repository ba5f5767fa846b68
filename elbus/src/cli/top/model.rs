//! What `top` shows, computed from two samples: per-second rates from counter deltas, and the
//! `--once --json` snapshot.

use serde_json::{json, Value as Json};

use super::sample::{ClientSample, Sample, Totals, Traffic};

/// A rate from a counter read `secs` apart; a counter that went down (a client that
/// reconnected under the same name) counts from zero.
fn rate(now: u64, before: u64, secs: f64) -> f64 {
    let delta = if now >= before { now - before } else { now };
    if secs > 0.0 {
        delta as f64 / secs
    } else {
        0.0
    }
}

/// One client's row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientRow {
    pub name: String,
    pub kind: String,
    /// Frames/s and bytes/s received from it, frames/s and bytes/s queued to it.
    pub r_frames: f64,
    pub r_bytes: f64,
    pub w_frames: f64,
    pub w_bytes: f64,
    pub queue: u64,
    pub queue_bytes: Option<u64>,
    pub dropped_frames: Option<u64>,
    pub denied: Option<u64>,
}

/// One topic's row: rates of its traffic and the totals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TopicRow {
    pub topic: String,
    pub publications: f64,
    pub bytes: f64,
    pub deliveries: f64,
    pub delivered_bytes: f64,
    pub total: Traffic,
}

/// Broker-wide rates and totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TotalsRow {
    pub totals: Totals,
    pub r_frames: f64,
    pub r_bytes: f64,
    pub w_frames: f64,
    pub w_bytes: f64,
    pub dropped_frames: f64,
    pub denied: f64,
}

/// The model of one screen: rows computed from the latest sample and the one before it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Model {
    /// Seconds between the two samples (0 before the second one: rates are 0).
    pub secs: f64,
    pub totals: TotalsRow,
    /// Clients by name.
    pub clients: Vec<ClientRow>,
    /// Topics by bytes/s, most first; `None` when the broker has no `topic.list`.
    pub topics: Option<Vec<TopicRow>>,
    /// Untracked topics together, and how many are tracked of how many possible.
    pub topics_other: Option<(TopicRow, u64, u64)>,
}

impl Model {
    /// The model of `now`, with rates from `before`, taken `secs` earlier (`None`: the first
    /// sample, every rate 0).
    pub fn new(before: Option<&Sample>, now: &Sample, secs: f64) -> Model {
        let empty = Sample::default();
        let (before, secs) = before.map_or((&empty, 0.0), |before| (before, secs));
        let rates_of = |now: &ClientSample, before: Option<&ClientSample>| {
            let before = before.cloned().unwrap_or_default();
            ClientRow {
                name: now.name.clone(),
                kind: now.kind.clone(),
                r_frames: rate(now.r_frames, before.r_frames, secs),
                r_bytes: rate(now.r_bytes, before.r_bytes, secs),
                w_frames: rate(now.w_frames, before.w_frames, secs),
                w_bytes: rate(now.w_bytes, before.w_bytes, secs),
                queue: now.queue,
                queue_bytes: now.queue_bytes,
                dropped_frames: now.dropped_frames,
                denied: now.denied,
            }
        };
        let mut clients: Vec<ClientRow> = now
            .clients
            .iter()
            .map(|client| {
                let old = before.clients.iter().find(|c| c.name == client.name);
                rates_of(client, old)
            })
            .collect();
        clients.sort_by(|a, b| a.name.cmp(&b.name));
        let (t, o) = (&now.totals, &before.totals);
        let totals = TotalsRow {
            totals: t.clone(),
            r_frames: rate(t.r_frames, o.r_frames, secs),
            r_bytes: rate(t.r_bytes, o.r_bytes, secs),
            w_frames: rate(t.w_frames, o.w_frames, secs),
            w_bytes: rate(t.w_bytes, o.w_bytes, secs),
            dropped_frames: rate(
                t.dropped_frames.unwrap_or(0),
                o.dropped_frames.unwrap_or(0),
                secs,
            ),
            denied: rate(t.denied.unwrap_or(0), o.denied.unwrap_or(0), secs),
        };
        let topic_row = |topic: &str, now: Traffic, before: Traffic| TopicRow {
            topic: topic.to_owned(),
            publications: rate(now.publications, before.publications, secs),
            bytes: rate(now.bytes, before.bytes, secs),
            deliveries: rate(now.deliveries, before.deliveries, secs),
            delivered_bytes: rate(now.delivered_bytes, before.delivered_bytes, secs),
            total: now,
        };
        let old_topics = before.topics.as_ref();
        let topics = now.topics.as_ref().map(|list| {
            let mut rows: Vec<TopicRow> = list
                .topics
                .iter()
                .map(|entry| {
                    let old = old_topics
                        .and_then(|old| old.topics.iter().find(|t| t.topic == entry.topic))
                        .map(|t| t.traffic)
                        .unwrap_or_default();
                    topic_row(&entry.topic, entry.traffic, old)
                })
                .collect();
            rows.sort_by(|a, b| {
                b.bytes
                    .total_cmp(&a.bytes)
                    .then(b.total.bytes.cmp(&a.total.bytes))
                    .then_with(|| a.topic.cmp(&b.topic))
            });
            rows
        });
        let topics_other = now.topics.as_ref().map(|list| {
            let old = old_topics.map(|old| old.other).unwrap_or_default();
            let row = topic_row("(other)", list.other, old);
            (row, list.tracked, list.max_tracked)
        });
        Model {
            secs,
            totals,
            clients,
            topics,
            topics_other,
        }
    }

    /// The `--once --json` snapshot.
    pub fn to_json(&self) -> Json {
        let t = &self.totals;
        let topic = |row: &TopicRow| {
            json!({
                "topic": row.topic,
                "publications_per_s": row.publications,
                "bytes_per_s": row.bytes,
                "deliveries_per_s": row.deliveries,
                "delivered_bytes_per_s": row.delivered_bytes,
                "publications": row.total.publications,
                "bytes": row.total.bytes,
                "deliveries": row.total.deliveries,
                "delivered_bytes": row.total.delivered_bytes,
            })
        };
        json!({
            "interval_secs": self.secs,
            "totals": {
                "uptime": t.totals.uptime,
                "clients": t.totals.clients,
                "r_frames": t.totals.r_frames,
                "r_bytes": t.totals.r_bytes,
                "w_frames": t.totals.w_frames,
                "w_bytes": t.totals.w_bytes,
                "dropped_frames": t.totals.dropped_frames,
                "forced_disconnects": t.totals.forced_disconnects,
                "denied": t.totals.denied,
                "r_frames_per_s": t.r_frames,
                "r_bytes_per_s": t.r_bytes,
                "w_frames_per_s": t.w_frames,
                "w_bytes_per_s": t.w_bytes,
                "dropped_frames_per_s": t.dropped_frames,
                "denied_per_s": t.denied,
            },
            "clients": self.clients.iter().map(|c| json!({
                "name": c.name,
                "kind": c.kind,
                "r_frames_per_s": c.r_frames,
                "r_bytes_per_s": c.r_bytes,
                "w_frames_per_s": c.w_frames,
                "w_bytes_per_s": c.w_bytes,
                "queue": c.queue,
                "queue_bytes": c.queue_bytes,
                "dropped_frames": c.dropped_frames,
                "denied": c.denied,
            })).collect::<Vec<_>>(),
            "topics": self.topics.as_ref().map(|rows| rows.iter().map(topic).collect::<Vec<_>>()),
            "topics_other": self.topics_other.as_ref().map(|(row, tracked, max)| {
                let mut other = topic(row);
                other["tracked"] = json!(tracked);
                other["max_tracked"] = json!(max);
                other
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::sort::{Column, Key, KeyAction, Sort};
    use super::*;

    fn client(name: &str, r_frames: u64) -> ClientSample {
        ClientSample {
            name: name.to_owned(),
            kind: "tcp".to_owned(),
            r_frames,
            ..ClientSample::default()
        }
    }

    #[test]
    fn rates_from_deltas_and_sorting() {
        let before = Sample {
            clients: vec![client("a", 10), client("b", 100)],
            ..Sample::default()
        };
        let now = Sample {
            clients: vec![client("a", 30), client("b", 5), client("c", 4)],
            ..Sample::default()
        };
        let model = Model::new(Some(&before), &now, 2.0);
        let rates: Vec<(&str, f64)> = model
            .clients
            .iter()
            .map(|c| (c.name.as_str(), c.r_frames))
            .collect();
        // b reconnected (its counter went down), c is new: both count from zero.
        assert_eq!(rates, [("a", 10.0), ("b", 2.5), ("c", 2.0)]);
        let mut sort = Sort {
            column: Column::FramesIn,
            reversed: false,
        };
        let names = |sort: &Sort| -> Vec<String> {
            sort.apply(&model.clients)
                .iter()
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(names(&sort), ["a", "b", "c"]);
        assert_eq!(sort.on_key(Key::Char('r')), KeyAction::Redraw);
        assert_eq!(names(&sort), ["c", "b", "a"]);
        assert_eq!(sort.on_key(Key::Left), KeyAction::Redraw);
        assert_eq!(sort.column, Column::Name);
        assert_eq!(sort.on_key(Key::Left), KeyAction::Redraw);
        assert_eq!(sort.column, Column::Denied);
        assert_eq!(sort.on_key(Key::Char('x')), KeyAction::Ignore);
        assert_eq!(sort.on_key(Key::CtrlC), KeyAction::Quit);
        // The first sample has no rates.
        assert!(Model::new(None, &now, 1.0)
            .clients
            .iter()
            .all(|c| c.r_frames == 0.0));
    }
}
