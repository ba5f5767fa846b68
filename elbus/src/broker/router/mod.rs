//! Routing: executes decoded client commands against the registry and the recipients' queues,
//! and decides each ACK's result code (`protocol.md` §8.2–§8.4).

use std::sync::Arc;

use tracing::{debug, warn};

mod inject;
mod patterns;
mod scratch;

pub(crate) use inject::Injector;
pub(crate) use patterns::PatternSet;
pub(crate) use scratch::RouteScratch;

use super::access::AccessRule;
use super::queue::{DroppedOldest, Outgoing, PushOutcome};
use super::registry::ClientEntry;
use super::remote::Destination;
use super::stats::{DropReason, Op};
use super::BrokerInner;
use crate::frame::{encode_delivery, FrameLayout};
use crate::protocol::{self, FrameKind};
use crate::{Command, Error, ErrorKind, QoS};

/// How a routed frame is delivered: its realtime flag, and the bytes each delivered copy counts
/// for in the `w_bytes` counters (`busrtd`'s measure: the body of the frame a socket client
/// sent, the payload of an in-process client's call).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery {
    pub(crate) realtime: bool,
    pub(crate) counted: usize,
}

impl Delivery {
    /// An in-process client's delivery of `payload`.
    pub(crate) fn of_payload(payload: &[&[u8]], realtime: bool) -> Self {
        Delivery {
            realtime,
            counted: payload.iter().map(|piece| piece.len()).sum(),
        }
    }
}

impl BrokerInner {
    /// Executes one command of `sender` (frame `op_id`, whose body is `body_len` bytes) and,
    /// when `qos` asks for one, queues its ACK. Fails when that ACK overflowed the sender's own
    /// queue: the sender is being disconnected.
    pub(crate) fn execute(
        &self,
        sender: &Arc<ClientEntry>,
        command: Command<'_>,
        qos: QoS,
        op_id: u32,
        body_len: usize,
        scratch: &mut RouteScratch,
    ) -> Result<(), Error> {
        match self.route(sender, command, qos, op_id, body_len, scratch) {
            Some(code) if qos.needs_ack() && !self.ack(sender, op_id, code, scratch) => {
                Err(Error::new(ErrorKind::NotDelivered, "client queue overflow"))
            }
            _ => Ok(()),
        }
    }

    /// Routes one command; returns the ACK result code, or `None` when the frame is ignored
    /// and never ACKed (op 0 with QoS bits, `protocol.md` §3.1).
    fn route(
        &self,
        sender: &Arc<ClientEntry>,
        command: Command<'_>,
        qos: QoS,
        op_id: u32,
        body_len: usize,
        scratch: &mut RouteScratch,
    ) -> Option<u8> {
        // The one branch a client without access rules pays.
        if let Some(rule) = sender.access.as_deref() {
            if !self.access_allows(sender, rule, &command, qos, op_id, scratch) {
                return Some(protocol::ERR_ACCESS);
            }
        }
        let realtime = qos.is_realtime();
        // Each delivered copy counts in `w_bytes` for the body of the sender's frame (its
        // target, mask or topic, the NULs and the payload), as `busrtd` counts it.
        let out = Delivery {
            realtime,
            counted: body_len,
        };
        Some(match command {
            Command::Ignored => return None,
            Command::Message { target, payload } => {
                self.send_message(sender, target, &[payload], out, scratch)
            }
            Command::Broadcast { mask, payload } => {
                self.send_broadcast(sender, mask, &[payload], out, scratch)
            }
            Command::Publish { topic, payload } => {
                self.publish(sender, topic, None, &[payload], out, scratch)
            }
            Command::PublishFor {
                topic,
                receiver,
                payload,
            } => self.publish(sender, topic, Some(receiver), &[payload], out, scratch),
            Command::Subscribe(topics) => {
                let (set, ack) = (PatternSet::Subscriptions, Some((qos, op_id, scratch)));
                let (patterns, beyond) = self.capped_patterns(topics);
                match sender.access.as_deref() {
                    None => self.add_patterns(sender, set, patterns, beyond, ack),
                    Some(rule) => self.add_patterns(
                        sender,
                        set,
                        patterns.filter(|pattern| rule.allows_subscribe(pattern)),
                        beyond,
                        ack,
                    ),
                };
                protocol::RESPONSE_OK
            }
            Command::Unsubscribe(topics) => {
                let ack = (qos, op_id, scratch);
                self.remove_patterns(sender, PatternSet::Subscriptions, topics, ack);
                protocol::RESPONSE_OK
            }
            Command::Exclude(topics) => {
                let (patterns, beyond) = self.capped_patterns(topics);
                let ack = Some((qos, op_id, scratch));
                self.add_patterns(sender, PatternSet::Exclusions, patterns, beyond, ack);
                protocol::RESPONSE_OK
            }
            Command::Unexclude(topics) => {
                let ack = (qos, op_id, scratch);
                self.remove_patterns(sender, PatternSet::Exclusions, topics, ack);
                protocol::RESPONSE_OK
            }
        })
    }

    /// Checks `command` against the sender's access rule (`protocol.md` §8.9); false: refuse the
    /// whole frame with `0x79`. A subscription is never refused whole: each denied pattern gets
    /// its own `0x79` ACK here, before the frame's `0x01`, and only the allowed ones are
    /// subscribed. Every denial is counted and logged.
    fn access_allows(
        &self,
        sender: &Arc<ClientEntry>,
        rule: &AccessRule,
        command: &Command<'_>,
        qos: QoS,
        op_id: u32,
        scratch: &mut RouteScratch,
    ) -> bool {
        match *command {
            Command::Message { target, .. } if !rule.allows_p2p(target) => {
                self.count_denied(
                    Some(sender),
                    &format_args!("one-to-one message to {target}"),
                );
            }
            Command::Broadcast { mask, .. } if !rule.allows_broadcast(mask) => {
                self.count_denied(Some(sender), &format_args!("broadcast to {mask}"));
            }
            Command::Publish { topic, .. } | Command::PublishFor { topic, .. }
                if !rule.allows_publish(topic) =>
            {
                self.count_denied(Some(sender), &format_args!("publish to {topic}"));
            }
            Command::Subscribe(topics) => {
                // Patterns past the per-frame cap are refused unchecked (`add_patterns`).
                let (patterns, _) = self.capped_patterns(topics);
                for pattern in patterns.filter(|p| !rule.allows_subscribe(p)) {
                    self.count_denied(Some(sender), &format_args!("subscribe to {pattern}"));
                    if qos.needs_ack() {
                        self.ack(sender, op_id, protocol::ERR_ACCESS, scratch);
                    }
                }
                return true;
            }
            _ => return true,
        }
        false
    }

    /// Routes a one-to-one message; returns the ACK code.
    pub(crate) fn send_message(
        &self,
        sender: &ClientEntry,
        target: &str,
        payload: &[&[u8]],
        out: Delivery,
        scratch: &mut RouteScratch,
    ) -> u8 {
        let target = match self.message_destination(sender, target, payload, out.realtime) {
            Destination::Local(target) => target,
            Destination::Handed(code) => return code,
        };
        let Some(target) = self.registry.lookup(target) else {
            return protocol::ERR_CLIENT_NOT_REGISTERED;
        };
        let Ok(frame) = encode_delivery(
            FrameKind::Message,
            &sender.name,
            None,
            payload,
            out.realtime,
        ) else {
            return protocol::ERR_DATA;
        };
        debug!(from = %sender.name, to = %target.name, "message");
        let layout = FrameLayout::of(&sender.name, None);
        let code = self.deliver(
            &target,
            Outgoing::frame(frame, layout, out.counted),
            scratch,
        );
        if code == protocol::RESPONSE_OK {
            self.ops.count_delivered(Op::Message, 1, out.counted);
        }
        code
    }

    /// Routes a broadcast; the ACK is OK whatever the number of recipients.
    pub(crate) fn send_broadcast(
        &self,
        sender: &ClientEntry,
        mask: &str,
        payload: &[&[u8]],
        out: Delivery,
        scratch: &mut RouteScratch,
    ) -> u8 {
        if let Some(code) = self.refuse_oversized(sender, mask, '.') {
            return code;
        }
        let mask = match self.broadcast_destination(sender, mask, payload, out.realtime) {
            Destination::Local(mask) => mask,
            Destination::Handed(code) => return code,
        };
        scratch.targets.clear();
        self.registry
            .mask_targets(mask, &mut scratch.ids, &mut scratch.targets);
        self.deliver_all(sender, FrameKind::Broadcast, None, payload, out, scratch)
    }

    /// Routes a publication (to one primary's subscribers when `receiver` is given).
    pub(crate) fn publish(
        &self,
        sender: &ClientEntry,
        topic: &str,
        receiver: Option<&str>,
        payload: &[&[u8]],
        out: Delivery,
        scratch: &mut RouteScratch,
    ) -> u8 {
        if let Some(code) = self.refuse_oversized(sender, topic, '/') {
            return code;
        }
        scratch.targets.clear();
        self.registry
            .subscribers(topic, receiver, &mut scratch.ids, &mut scratch.targets);
        let deliveries = scratch.targets.len();
        let code = self.deliver_all(
            sender,
            FrameKind::Publish,
            Some(topic),
            payload,
            out,
            scratch,
        );
        // After routing, so the table's lock is never held while queues are.
        if code == protocol::RESPONSE_OK {
            self.topics.count(topic, out.counted, deliveries);
        }
        if receiver.is_none() {
            self.offer_publication(sender, topic, payload, out.realtime);
        }
        code
    }

    fn deliver_all(
        &self,
        sender: &ClientEntry,
        kind: FrameKind,
        topic: Option<&str>,
        payload: &[&[u8]],
        out: Delivery,
        scratch: &mut RouteScratch,
    ) -> u8 {
        if scratch.targets.is_empty() {
            return protocol::RESPONSE_OK;
        }
        let Ok(frame) = encode_delivery(kind, &sender.name, topic, payload, out.realtime) else {
            return protocol::ERR_DATA;
        };
        let layout = FrameLayout::of(&sender.name, topic);
        let op = match kind {
            FrameKind::Broadcast => Op::Broadcast,
            FrameKind::Message => Op::Message,
            _ => Op::Publish,
        };
        let mut targets = std::mem::take(&mut scratch.targets);
        let mut queued = 0;
        for target in targets.drain(..) {
            let item = Outgoing::frame(frame.clone(), layout, out.counted);
            if self.deliver(&target, item, scratch) == protocol::RESPONSE_OK {
                queued += 1;
            }
        }
        scratch.targets = targets;
        // Once per routed frame, not per copy: a fan-out costs one update of the shared
        // counters.
        self.ops.count_delivered(op, queued, queued * out.counted);
        protocol::RESPONSE_OK
    }

    /// Queues one delivered frame ([`Outgoing::Frame`]) to `target` and returns the result a
    /// direct sender would get (OK exactly when the frame was queued).
    fn deliver(&self, target: &Arc<ClientEntry>, item: Outgoing, scratch: &mut RouteScratch) -> u8 {
        let (frames, bytes) = item.counted();
        match scratch.pushed(target, target.queue.push(item)) {
            PushOutcome::Queued => {
                self.count_written(target, frames, bytes);
                protocol::RESPONSE_OK
            }
            PushOutcome::QueuedDroppingOldest(dropped) => {
                self.count_written(target, frames, bytes);
                self.count_dropped_oldest(target, dropped);
                protocol::RESPONSE_OK
            }
            PushOutcome::Dropped => {
                let reason = DropReason::DropNewest;
                self.count_dropped(target, 1, reason, "queue full, dropped newest");
                protocol::ERR_NOT_DELIVERED
            }
            PushOutcome::Overflow => {
                let reason = DropReason::Disconnect;
                self.count_dropped(target, 1, reason, "queue full, disconnecting");
                self.force_disconnect_entry(target, "queue is full");
                protocol::ERR_NOT_DELIVERED
            }
            PushOutcome::Closed => protocol::ERR_EOF,
            // Fail fast: the target is still registered, but nobody reads what reaches it.
            PushOutcome::ReceiverGone => protocol::ERR_CLIENT_NOT_REGISTERED,
        }
    }

    /// Queues an ACK to the sender itself. Returns false when the sender's queue overflowed and
    /// the sender is being disconnected.
    pub(crate) fn ack(
        &self,
        sender: &Arc<ClientEntry>,
        op_id: u32,
        code: u8,
        scratch: &mut RouteScratch,
    ) -> bool {
        self.ops.count_ack(code);
        let item = Outgoing::Ack { op_id, code };
        let (frames, bytes) = item.counted();
        match scratch.pushed(sender, sender.queue.push(item)) {
            PushOutcome::Queued => {
                self.count_written(sender, frames, bytes);
                true
            }
            PushOutcome::QueuedDroppingOldest(dropped) => {
                self.count_written(sender, frames, bytes);
                self.count_dropped_oldest(sender, dropped);
                true
            }
            PushOutcome::Dropped => {
                let reason = DropReason::DropNewest;
                self.count_dropped(sender, 1, reason, "queue full, ACK dropped");
                true
            }
            PushOutcome::Overflow => {
                self.force_disconnect_entry(sender, "queue is full");
                false
            }
            PushOutcome::Closed | PushOutcome::ReceiverGone => false,
        }
    }

    fn count_written(&self, target: &ClientEntry, frames: u64, bytes: u64) {
        target.counters.count_written(frames, bytes);
        self.counters.count_written(frames, bytes);
    }

    /// Counts the frames a drop-oldest push dropped, and takes them back from the written
    /// counters: they were counted when queued and will never be written.
    fn count_dropped_oldest(&self, target: &ClientEntry, dropped: DroppedOldest) {
        target
            .counters
            .uncount_written(dropped.counted_frames, dropped.counted_bytes);
        self.counters
            .uncount_written(dropped.counted_frames, dropped.counted_bytes);
        let reason = DropReason::DropOldest;
        self.count_dropped(target, dropped.items, reason, "queue full, dropped oldest");
    }

    fn count_dropped(&self, target: &ClientEntry, frames: u64, why: DropReason, reason: &str) {
        target.counters.count_dropped(frames);
        self.counters.count_dropped(frames);
        self.ops.count_dropped(why, frames);
        if self.drop_log.allow() {
            warn!(
                client = %target.name,
                queue = target.queue.len(),
                "client {}: {reason}",
                target.name
            );
        }
    }
}
