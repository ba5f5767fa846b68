//! Unit tests of the outbound queue: order, flushes, overflow policies and the byte bounds.

use super::*;
use crate::protocol;

fn limits(max_frames: usize, max_bytes: usize, overflow: OverflowPolicy) -> QueueLimits {
    QueueLimits {
        max_frames,
        max_bytes,
        overflow,
    }
}

fn frame(n: u8) -> Outgoing {
    Outgoing::frame(Bytes::from(vec![n; 10]), None, 10)
}

/// The cost of one [`frame`].
const FRAME_COST: usize = 10 + QueueLimits::ITEM_OVERHEAD;

fn budget() -> Arc<QueueBudget> {
    Arc::new(QueueBudget::new(usize::MAX))
}

fn new_queue(limits: QueueLimits) -> OutQueue {
    OutQueue::new(limits, budget())
}

fn push(queue: &OutQueue, item: Outgoing) -> PushOutcome {
    queue.push(item).outcome
}

/// A socket that takes at most `room` more bytes, recording them.
#[derive(Default)]
struct FakeSocket {
    written: Mutex<Vec<u8>>,
    room: Mutex<usize>,
}

impl DirectWrite for FakeSocket {
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
        let mut room = self.room.lock().unwrap();
        if *room == 0 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(*room);
        *room -= n;
        self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn peer_hung_up(&self) -> bool {
        false
    }
}

fn socket_queue(room: usize) -> (OutQueue, Arc<FakeSocket>) {
    socket_queue_with(room, QueueLimits::default())
}

fn socket_queue_with(room: usize, limits: QueueLimits) -> (OutQueue, Arc<FakeSocket>) {
    let queue = new_queue(limits);
    let socket = Arc::new(FakeSocket::default());
    *socket.room.lock().unwrap() = room;
    queue.set_sink(DirectSink::Socket(socket.clone()));
    (queue, socket)
}

#[tokio::test]
async fn batches_come_out_in_order() {
    let queue = new_queue(QueueLimits::default());
    assert_eq!(push(&queue, frame(1)), PushOutcome::Queued);
    assert_eq!(
        push(&queue, Outgoing::Ack { op_id: 7, code: 1 }),
        PushOutcome::Queued
    );
    assert_eq!(queue.len(), 2);
    let mut out = VecDeque::new();
    assert_eq!(queue.take_all(&mut out).await, Taken::Batch);
    assert_eq!(out, [frame(1), Outgoing::Ack { op_id: 7, code: 1 }]);
    assert_eq!(queue.len(), 0);
}

#[test]
fn only_the_push_that_fills_an_idle_queue_owes_a_flush() {
    let queue = new_queue(QueueLimits::default());
    assert!(queue.push(frame(1)).needs_flush);
    assert!(!queue.push(frame(2)).needs_flush);
}

#[test]
fn flush_writes_everything_queued_into_the_socket_in_one_write() {
    let (queue, socket) = socket_queue(usize::MAX);
    assert!(queue.push(frame(1)).needs_flush);
    assert!(!queue.push(Outgoing::Ack { op_id: 7, code: 1 }).needs_flush);
    queue.flush();
    let mut expected = vec![1u8; 10];
    expected.extend_from_slice(&protocol::ack_frame(7, 1));
    assert_eq!(*socket.written.lock().unwrap(), expected);
    assert_eq!(queue.len(), 0);
    // The queue is idle again: the next push owes a flush of its own.
    assert!(queue.push(frame(2)).needs_flush);
}

#[tokio::test]
async fn what_a_full_socket_does_not_take_goes_to_the_consumer_in_order() {
    let (queue, socket) = socket_queue(4);
    let _ = queue.push(frame(1));
    let _ = queue.push(frame(2));
    queue.flush();
    assert_eq!(*socket.written.lock().unwrap(), [1u8; 4]);
    let mut out = VecDeque::new();
    assert_eq!(queue.take_all(&mut out).await, Taken::Batch);
    let mut rest = Vec::new();
    for item in &out {
        item.encode_into(&mut rest);
    }
    let mut expected = vec![1u8; 6];
    expected.extend_from_slice(&[2u8; 10]);
    assert_eq!(rest, expected);
}

#[tokio::test]
async fn nobody_flushes_while_the_consumer_writes() {
    let (queue, socket) = socket_queue(usize::MAX);
    let _ = queue.push(frame(1));
    let mut out = VecDeque::new();
    queue.take_all(&mut out).await;
    // Pushed while the consumer holds a batch: the consumer takes it next, not a router.
    assert!(!queue.push(frame(2)).needs_flush);
    queue.flush();
    assert!(socket.written.lock().unwrap().is_empty());
    queue.end_batch();
    out.clear();
    queue.take_all(&mut out).await;
    assert_eq!(out, [frame(2)]);
}

#[tokio::test]
async fn overflow_disconnect_closes() {
    let queue = new_queue(limits(2, 1000, OverflowPolicy::Disconnect));
    let _ = queue.push(frame(1));
    let _ = queue.push(frame(2));
    assert_eq!(push(&queue, frame(3)), PushOutcome::Overflow);
    assert!(queue.is_closed());
    assert_eq!(push(&queue, frame(4)), PushOutcome::Closed);
    // What was accepted before the overflow is still written, then the consumer ends.
    let mut out = VecDeque::new();
    assert_eq!(queue.take_all(&mut out).await, Taken::Batch);
    assert_eq!(out, [frame(1), frame(2)]);
    queue.end_batch();
    out.clear();
    assert_eq!(queue.take_all(&mut out).await, Taken::Closed);
}

#[test]
fn overflow_drop_newest_keeps_the_queue() {
    let queue = new_queue(limits(100, 2 * FRAME_COST + 1, OverflowPolicy::DropNewest));
    let _ = queue.push(frame(1));
    let _ = queue.push(frame(2));
    assert_eq!(push(&queue, frame(3)), PushOutcome::Dropped);
    assert_eq!(queue.len(), 2);
}

#[tokio::test]
async fn overflow_drop_oldest_makes_room() {
    let queue = new_queue(limits(2, 1000, OverflowPolicy::DropOldest));
    let _ = queue.push(frame(1));
    let _ = queue.push(frame(2));
    let dropped = DroppedOldest {
        items: 1,
        counted_frames: 1,
        counted_bytes: 10,
    };
    assert_eq!(
        push(&queue, frame(3)),
        PushOutcome::QueuedDroppingOldest(dropped)
    );
    let mut out = VecDeque::new();
    queue.take_all(&mut out).await;
    assert_eq!(out, [frame(2), frame(3)]);
}

#[tokio::test]
async fn a_client_that_keeps_up_takes_a_frame_larger_than_its_byte_limit() {
    for overflow in [
        OverflowPolicy::Disconnect,
        OverflowPolicy::DropNewest,
        OverflowPolicy::DropOldest,
    ] {
        let queue = new_queue(limits(10, 100, overflow));
        let big = Outgoing::frame(Bytes::from(vec![0; 2000]), None, 2000);
        assert_eq!(
            push(&queue, big.clone()),
            PushOutcome::Queued,
            "{overflow:?}"
        );
        let mut out = VecDeque::new();
        queue.take_all(&mut out).await;
        // The writer's batch does not count against the client's own limit.
        assert_eq!(push(&queue, big), PushOutcome::Queued, "{overflow:?}");
        queue.end_batch();
    }
}

#[test]
fn the_broker_wide_bound_is_paid_by_a_target_with_a_backlog() {
    let big = || Outgoing::frame(Bytes::from(vec![7; 70_000]), None, 70_000);
    let big_cost = big().cost();
    let shared = Arc::new(QueueBudget::new(3 * big_cost));
    let hog = OutQueue::new(
        limits(100, usize::MAX, OverflowPolicy::Disconnect),
        shared.clone(),
    );
    let reader = OutQueue::new(
        limits(100, usize::MAX, OverflowPolicy::DropNewest),
        shared.clone(),
    );
    for _ in 0..3 {
        assert_eq!(push(&hog, big()), PushOutcome::Queued);
    }
    // The bound is reached: a client holding nothing still gets a frame, and the small
    // items a client that keeps up has behind it...
    assert_eq!(push(&reader, big()), PushOutcome::Queued);
    assert_eq!(push(&reader, frame(9)), PushOutcome::Queued);
    // ...while a client with a backlog pays under its policy.
    assert_eq!(push(&reader, big()), PushOutcome::Dropped);
    assert_eq!(push(&hog, big()), PushOutcome::Overflow);
    assert_eq!(
        shared.used(),
        4 * big_cost + FRAME_COST,
        "a closed queue keeps its frames"
    );
    drop(hog);
    drop(reader);
    assert_eq!(shared.used(), 0, "dropped queues give their bytes back");
}

#[tokio::test]
async fn drop_oldest_never_drops_the_rest_of_a_frame_being_written() {
    let (queue, socket) = socket_queue_with(4, limits(2, usize::MAX, OverflowPolicy::DropOldest));
    let _ = queue.push(frame(1));
    queue.flush();
    assert_eq!(*socket.written.lock().unwrap(), [1u8; 4]);
    let _ = queue.push(frame(2));
    let _ = queue.push(frame(3));
    let mut out = VecDeque::new();
    let mut rest = Vec::new();
    queue.take_all(&mut out).await;
    for item in &out {
        item.encode_into(&mut rest);
    }
    let mut expected = vec![1u8; 6];
    expected.extend_from_slice(&[3u8; 10]);
    assert_eq!(rest, expected, "the rest of frame 1, then the newest frame");
}

#[tokio::test]
async fn consumer_wakes_on_flush() {
    let queue = std::sync::Arc::new(new_queue(QueueLimits::default()));
    let consumer = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut out = VecDeque::new();
            queue.take_all(&mut out).await;
            out
        })
    };
    assert!(queue.push(frame(9)).needs_flush);
    queue.flush();
    assert_eq!(consumer.await.unwrap(), [frame(9)]);
}
