"""A service's events as subscriptions with decoded payloads.

Each event is published on its topic with a msgpack map of its fields as the payload
(docs/typed-rpc.md, section 8). `EventHub` owns the client's publications: it subscribes with
an acknowledged frame, so nothing published after `subscribe` returns is missed, and hands each
publication to every subscription whose pattern matches.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import msgpack  # type: ignore[import-untyped]
from busrt.client import OP_PUBLISH, OP_SUBSCRIBE, OP_UNSUBSCRIBE, Frame  # type: ignore[import-untyped]

from .describe import Event
from .errors import TransportError

DEFAULT_BUFFER = 256


@dataclass(frozen=True)
class ReceivedEvent:
    """One publication: the event's name, the topic it came on, who sent it, its fields."""

    name: str
    topic: str
    sender: str
    data: Dict[str, Any]


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT matching as the broker does it: `+` is one level, a last `#` one or more."""
    want = pattern.split('/')
    have = topic.split('/')
    for i, part in enumerate(want):
        if part == '#' and i == len(want) - 1:
            return len(have) > i
        if i >= len(have) or (part != '+' and part != have[i]):
            return False
    return len(want) == len(have)


def decode_fields(payload: bytes) -> Dict[str, Any]:
    """An event payload's fields; an empty payload is a unit variant's `{}`."""
    if not payload:
        return {}
    fields = msgpack.loads(payload, raw=False)
    if not isinstance(fields, dict):
        raise ValueError('an event payload must be a msgpack map')
    return fields


class Subscription:
    """One subscription to an event. With a callback, each event is passed to it on busrt's
    reader thread (keep it short: nothing else is read meanwhile); without, events wait in a
    bounded queue for `get()`, the oldest dropped when it is full and counted in `lagged`."""

    def __init__(self, hub: EventHub, event: Event, callback: Optional[Callable[[ReceivedEvent],
                 None]], sender: Optional[str], buffer: int) -> None:
        self.event = event
        self.lagged = 0
        self._hub = hub
        self._callback = callback
        self._sender = sender
        self._queue: queue.Queue[ReceivedEvent] = queue.Queue(maxsize=max(buffer, 1))
        self._lock = threading.Lock()

    def _deliver(self, received: ReceivedEvent) -> None:
        if self._sender is not None and received.sender != self._sender:
            return
        if self._callback is not None:
            self._callback(received)
            return
        with self._lock:
            while True:
                try:
                    self._queue.put_nowait(received)
                    return
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                        self.lagged += 1
                    except queue.Empty:
                        pass

    def get(self, timeout: Optional[float] = None) -> ReceivedEvent:
        """The next event (queue mode); `queue.Empty` after `timeout` seconds."""
        return self._queue.get(timeout=timeout)

    def close(self) -> None:
        """Stops the subscription; the broker's is dropped with the last one on its pattern."""
        self._hub.remove(self)


class EventHub:
    """Routes a busrt client's publications to subscriptions (one per client).

    It takes the client's `on_frame` after busrt's `Rpc` has: busrt's RPC layer hands every
    frame to a new thread, which would reorder events, so publications are delivered here, on
    the reader thread, in arrival order. Every other frame goes on to the RPC layer.
    """

    def __init__(self, client: Any, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._subscriptions: List[Subscription] = []
        self._lock = threading.Lock()
        self._others = client.on_frame
        client.on_frame = self._on_frame

    def subscribe(self, event: Event, callback: Optional[Callable[[ReceivedEvent], None]] = None,
                  sender: Optional[str] = None, buffer: int = DEFAULT_BUFFER) -> Subscription:
        """Subscribes to `event.pattern`; returns once the broker has acknowledged it."""
        subscription = Subscription(self, event, callback, sender, buffer)
        with self._lock:
            first = all(s.event.pattern != event.pattern for s in self._subscriptions)
            self._subscriptions.append(subscription)
        if first:
            try:
                self._send(OP_SUBSCRIBE, event.pattern)
            except BaseException:
                with self._lock:
                    self._subscriptions.remove(subscription)
                raise
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Drops one subscription (and the broker's, when it was the last on its pattern)."""
        with self._lock:
            if subscription not in self._subscriptions:
                return
            self._subscriptions.remove(subscription)
            pattern = subscription.event.pattern
            last = all(s.event.pattern != pattern for s in self._subscriptions)
        if last:
            self._send(OP_UNSUBSCRIBE, pattern)

    def _send(self, op: int, pattern: str) -> None:
        frame = Frame(tp=op, qos=1)
        frame.topic = [pattern]
        code = self._client.send(None, frame).wait_completed(timeout=self._timeout)
        if code != 1:
            raise TransportError(f'the broker refused the subscription to {pattern}',
                                 -32000 - code)

    def _on_frame(self, frame: Any) -> None:
        if frame.type != OP_PUBLISH:
            self._others(frame)
            return
        with self._lock:
            matching = [s for s in self._subscriptions if topic_matches(s.event.pattern,
                                                                         frame.topic)]
        if not matching:
            self._others(frame)
            return
        data = decode_fields(frame.payload)
        for subscription in matching:
            subscription._deliver(
                ReceivedEvent(subscription.event.name, frame.topic, frame.sender, data))


class EventType:
    """One of a service's events: its topic, fields and docs; `subscribe()` to receive it."""

    def __init__(self, hub: EventHub, event: Event) -> None:
        self._hub = hub
        self.schema = event
        self.name = event.name
        self.topic = event.topic
        self.pattern = event.pattern
        self.__doc__ = event.description or event.name

    def subscribe(self, callback: Optional[Callable[[ReceivedEvent], None]] = None,
                  sender: Optional[str] = None, buffer: int = DEFAULT_BUFFER) -> Subscription:
        """Subscribes (acknowledged); see `Subscription` for callback and queue modes."""
        return self._hub.subscribe(self.schema, callback, sender, buffer)
