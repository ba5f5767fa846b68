//! The in-process client: a client living in the broker's own process, connected through
//! inter-thread channels instead of a socket.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

use super::config::OverflowPolicy;
use super::peer::Peer;
use super::queue::{ChannelSink, DirectSink, Outgoing, Taken};
use super::registry::ClientEntry;
use super::router::PatternSet;
use super::router::{Delivery, RouteScratch};
use super::stats::Op;
use super::BrokerInner;
use crate::client::{AsyncClient, EventChannel, OpConfirm};
use crate::{protocol, Error, Frame, QoS};

/// A client registered inside the broker's process ([`Broker::register_client`]).
///
/// Operations go straight into the recipients' queues: they never wait, and their result is
/// known at once (a message to a missing target fails with `NotRegistered` right away, not
/// through an ACK). The handle is cheap to clone; when the last clone is dropped the client is
/// unregistered and its `unreg` announced, as a socket client's disconnect is, so callers
/// waiting for its replies learn at once that it has gone. [`Client::unregister`] does the
/// same while clones remain. An application that takes
/// the [event channel](AsyncClient::take_event_channel) and drops it reads nothing more: frames
/// for the client are refused from then on, and a message to it fails at once with
/// `NotRegistered` (`0x71`), as if it had gone (an RPC caller gets -32113, not a timeout).
///
/// [`Broker::register_client`]: super::Broker::register_client
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    broker: Arc<BrokerInner>,
    entry: Arc<ClientEntry>,
    events: Mutex<Option<EventChannel>>,
    forwarder: JoinHandle<()>,
    next_secondary: AtomicU32,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        self.broker.unregister_entry(&self.entry, true);
        self.forwarder.abort();
    }
}

impl Client {
    pub(crate) fn register(broker: Arc<BrokerInner>, name: &str) -> Result<Client, Error> {
        if name.is_empty() {
            return Err(Error::data("Invalid client name: empty"));
        }
        broker.check_name(name)?;
        // In-process clients are never disconnected for being slow (an in-process sender must
        // never be blocked or cut off by one), so a `Disconnect` policy means dropping the newest.
        let mut queue = broker.options.internal_queue;
        if queue.overflow == OverflowPolicy::Disconnect {
            queue.overflow = OverflowPolicy::DropNewest;
        }
        // In-process clients are trusted: no credentials to read, no rules to apply.
        let entry = broker.new_entry(name, Peer::in_process(), None, queue);
        broker.register_entry(&entry)?;
        let (tx, rx) = mpsc::channel(broker.options.internal_channel_size.max(1));
        entry
            .queue
            .set_sink(DirectSink::Channel(Arc::new(EventSink {
                channel: tx.clone(),
                client: entry.name.clone(),
            })));
        let forwarder = tokio::spawn(forward(entry.clone(), tx));
        Ok(Client {
            inner: Arc::new(ClientInner {
                broker,
                entry,
                events: Mutex::new(Some(rx)),
                forwarder,
                next_secondary: AtomicU32::new(0),
            }),
        })
    }

    /// Registers a secondary client `NAME%%<n>` of this one.
    pub fn register_secondary(&self) -> Result<Client, Error> {
        if self.inner.entry.is_secondary() {
            return Err(Error::not_supported(
                "a secondary client cannot have secondaries",
            ));
        }
        let n = self.inner.next_secondary.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}{}{n}", self.inner.entry.name, protocol::SECONDARY_SEP);
        Client::register(self.inner.broker.clone(), &name)
    }

    /// Unregisters the client now, with an `unreg` announcement, even if clones remain.
    pub fn unregister(&self) {
        self.inner.broker.unregister_entry(&self.inner.entry, true);
    }

    fn check_registered(&self) -> Result<(), Error> {
        if self.inner.entry.queue.is_closed() {
            Err(Error::not_registered())
        } else {
            Ok(())
        }
    }

    fn count_read(&self, op: Op, bytes: usize) {
        self.inner.entry.counters.count_read(bytes);
        self.inner.broker.counters.count_read(bytes);
        self.inner.broker.ops.count_received(op, bytes);
    }

    fn finish(&self, code: u8) -> Result<OpConfirm, Error> {
        Error::check_code(code).map(|()| OpConfirm::ready(Ok(())))
    }

    fn route_message(&self, target: &str, payload: &[&[u8]], qos: QoS) -> Result<OpConfirm, Error> {
        self.check_registered()?;
        let bytes = target.len() + 1 + payload.iter().map(|p| p.len()).sum::<usize>();
        self.count_read(Op::Message, bytes);
        let code = self.inner.broker.send_message(
            &self.inner.entry,
            target,
            payload,
            Delivery::of_payload(payload, qos.is_realtime()),
            &mut RouteScratch::default(),
        );
        self.finish(code)
    }

    fn route_publish(
        &self,
        topic: &str,
        receiver: Option<&str>,
        payload: &[u8],
        qos: QoS,
    ) -> Result<OpConfirm, Error> {
        self.check_registered()?;
        let op = match receiver {
            Some(_) => Op::PublishFor,
            None => Op::Publish,
        };
        self.count_read(op, topic.len() + 1 + payload.len());
        let code = self.inner.broker.publish(
            &self.inner.entry,
            topic,
            receiver,
            &[payload],
            Delivery::of_payload(&[payload], qos.is_realtime()),
            &mut RouteScratch::default(),
        );
        self.finish(code)
    }

    fn add_patterns(&self, set: PatternSet, topics: &[&str]) -> Result<OpConfirm, Error> {
        self.check_registered()?;
        let op = match set {
            PatternSet::Subscriptions => Op::Subscribe,
            PatternSet::Exclusions => Op::Exclude,
        };
        self.count_read(op, topics.iter().map(|t| t.len() + 1).sum());
        let max = self.inner.broker.options.max_subscriptions;
        let beyond = topics.len().saturating_sub(max);
        let patterns = topics.iter().take(max).copied();
        let refused =
            self.inner
                .broker
                .add_patterns(&self.inner.entry, set, patterns, beyond, None);
        self.finish(refused.code())
    }

    fn topic_op(
        &self,
        counted: Op,
        topics: &[&str],
        op: impl FnOnce(&super::registry::Registry, u64, &mut dyn Iterator<Item = &str>),
    ) -> Result<OpConfirm, Error> {
        self.check_registered()?;
        self.count_read(counted, topics.iter().map(|t| t.len() + 1).sum());
        op(
            &self.inner.broker.registry,
            self.inner.entry.id,
            &mut topics.iter().copied(),
        );
        Ok(OpConfirm::ready(Ok(())))
    }
}

/// Moves delivered frames from the client's queue into its event channel.
async fn forward(entry: Arc<ClientEntry>, tx: mpsc::Sender<Frame>) {
    let mut batch = VecDeque::new();
    loop {
        let closed = entry.queue.take_all(&mut batch).await == Taken::Closed;
        for frame in batch
            .drain(..)
            .filter_map(|item| event_of(item, &entry.name))
        {
            // A receiver that was taken and dropped discards frames; one that was never taken
            // fills up, and then the queue's overflow policy applies.
            let _ = tx.send(frame).await;
        }
        // Only now may routers send to the channel directly again: the batch is in, in order.
        entry.queue.end_batch();
        if closed {
            return;
        }
    }
}

/// The event channel of an in-process client as its queue's direct sink.
struct EventSink {
    channel: mpsc::Sender<Frame>,
    client: Arc<str>,
}

impl ChannelSink for EventSink {
    fn room(&self) -> usize {
        self.channel.capacity()
    }

    fn put(&self, item: Outgoing) {
        if let Some(frame) = event_of(item, &self.client) {
            // There was room, and nobody else sends meanwhile (the queue's lock is held).
            let _ = self.channel.try_send(frame);
        }
    }

    fn receiver_gone(&self) -> bool {
        self.channel.is_closed()
    }
}

/// The frame an in-process client receives for `item`: `None` for ACKs and NOPs (which only
/// sockets carry) and, logged, for a frame that does not decode. A frame the router encoded
/// carries its layout, so it is read without being parsed again for each recipient.
fn event_of(item: Outgoing, client: &str) -> Option<Frame> {
    let Outgoing::Frame { wire, layout, .. } = item else {
        return None;
    };
    match layout {
        Some(layout) => Frame::from_routed(wire, layout),
        None => Frame::from_wire(wire),
    }
    .inspect_err(|err| warn!("{client}: undecodable frame: {err}"))
    .ok()
}

impl AsyncClient for Client {
    fn name(&self) -> &str {
        &self.inner.entry.name
    }

    fn take_event_channel(&self) -> Option<EventChannel> {
        crate::sync::recover(self.inner.events.lock()).take()
    }

    fn send(
        &self,
        target: &str,
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        std::future::ready(self.route_message(target, &[payload], qos))
    }

    fn zc_send(
        &self,
        target: &str,
        header: &[u8],
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        std::future::ready(self.route_message(target, &[header, payload], qos))
    }

    fn send_broadcast(
        &self,
        mask: &str,
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        let result = self.check_registered().map(|()| {
            self.count_read(Op::Broadcast, mask.len() + 1 + payload.len());
            self.inner.broker.send_broadcast(
                &self.inner.entry,
                mask,
                &[payload],
                Delivery::of_payload(&[payload], qos.is_realtime()),
                &mut RouteScratch::default(),
            )
        });
        std::future::ready(result.and_then(|code| self.finish(code)))
    }

    fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        std::future::ready(self.route_publish(topic, None, payload, qos))
    }

    fn publish_for(
        &self,
        topic: &str,
        receiver: &str,
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        std::future::ready(self.route_publish(topic, Some(receiver), payload, qos))
    }

    fn subscribe_bulk(
        &self,
        topics: &[&str],
        _qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        std::future::ready(self.add_patterns(PatternSet::Subscriptions, topics))
    }

    fn unsubscribe_bulk(
        &self,
        topics: &[&str],
        _qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        std::future::ready(
            self.topic_op(Op::Unsubscribe, topics, |registry, id, topics| {
                registry.unsubscribe(id, topics)
            }),
        )
    }

    fn exclude_bulk(
        &self,
        topics: &[&str],
        _qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        std::future::ready(self.add_patterns(PatternSet::Exclusions, topics))
    }

    fn unexclude_bulk(
        &self,
        topics: &[&str],
        _qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        std::future::ready(
            self.topic_op(Op::Unexclude, topics, |registry, id, topics| {
                registry.unexclude(id, topics)
            }),
        )
    }

    fn ping(&self) -> impl Future<Output = Result<(), Error>> + Send {
        std::future::ready(Ok(()))
    }

    fn is_connected(&self) -> bool {
        !self.inner.entry.queue.is_closed()
    }

    fn timeout(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::config::QueueLimits;
    use crate::broker::queue::{OutQueue, PushOutcome, QueueBudget};
    use crate::frame::{encode_delivery, FrameLayout};
    use crate::protocol::FrameKind;

    fn channel_queue(room: usize) -> (OutQueue, mpsc::Receiver<Frame>) {
        let budget = Arc::new(QueueBudget::new(usize::MAX));
        let queue = OutQueue::new(QueueLimits::default(), budget);
        let (channel, events) = mpsc::channel(room);
        let client = "test.client".into();
        queue.set_sink(DirectSink::Channel(Arc::new(EventSink { channel, client })));
        (queue, events)
    }

    fn routed(sender: &str, topic: Option<&str>, payload: &[u8]) -> Outgoing {
        let kind = match topic {
            Some(_) => FrameKind::Publish,
            None => FrameKind::Message,
        };
        let wire = encode_delivery(kind, sender, topic, &[payload], false).unwrap();
        Outgoing::frame(wire, FrameLayout::of(sender, topic), payload.len())
    }

    #[test]
    fn a_routed_frame_reads_as_the_same_frame_parsed() {
        let cases = [
            ("a", None, &b"hi"[..]),
            ("group.client%%1", Some("t/x"), b"\0payload\0"),
            ("s", Some(""), b""),
        ];
        for (sender, topic, payload) in cases {
            let item = routed(sender, topic, payload);
            let Outgoing::Frame { wire, .. } = &item else {
                unreachable!()
            };
            let parsed = Frame::from_wire(wire.clone()).unwrap();
            let read = event_of(item, "test").unwrap();
            assert_eq!(read, parsed);
            assert_eq!((read.sender(), read.topic()), (sender, topic));
            assert_eq!(read.payload(), payload);
        }
    }

    #[tokio::test]
    async fn flush_fills_the_event_channel_up_to_its_room() {
        let (queue, mut events) = channel_queue(1);
        let _ = queue.push(routed("s", None, &[1, 1]));
        let _ = queue.push(routed("s", None, &[2, 2]));
        queue.flush();
        assert_eq!(events.recv().await.unwrap().payload(), [1, 1]);
        // The second frame waits for the consumer, which waits for room.
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn a_queue_whose_receiver_was_dropped_refuses_frames() {
        let (queue, events) = channel_queue(4);
        assert_eq!(
            queue.push(routed("s", None, b"1")).outcome,
            PushOutcome::Queued
        );
        drop(events);
        let pushed = queue.push(routed("s", None, b"2"));
        assert_eq!(pushed.outcome, PushOutcome::ReceiverGone);
    }
}
