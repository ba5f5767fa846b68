"""Shared helpers of the interop scenario scripts.

Not a scenario itself. It gives every script the same command line (`--path`, `--client`),
run-unique ASCII names, and `Peer`: one connection made with one of the published Python clients
(`busrt`, `elbus`, `busrt_async`), driven through a small blocking API so that each scenario is
written once and runs unchanged with all three. For `busrt_async` the client really runs on an
asyncio event loop (in a background thread); the blocking calls only submit coroutines to it.

Every wait is bounded by `WAIT` seconds and fails loudly when the bound passes: waits are for
events (ACKs, frames, RPC replies), never sleeps.
"""

import argparse
import asyncio
import concurrent.futures
import importlib
import os
import queue
import secrets
import sys
import threading

import msgpack

CLIENTS = ('busrt', 'busrt_async', 'elbus')
SYNC_CLIENTS = ('busrt', 'elbus')

# Failure bound of every single wait, in seconds (not a timing assertion: a healthy broker
# answers in milliseconds; this only keeps a broken one from hanging the run).
WAIT = float(os.environ.get('INTEROP_WAIT', '10'))

# The clients' own socket/ACK timeout. The library default (1 s) is tight on a loaded 2-core CI
# machine: the sync client gives up on the greeting after a single socket timeout.
CLIENT_TIMEOUT = 5


def parse_args(doc, clients=CLIENTS):
    """Parses `--path SOCKET_OR_HOST:PORT` and `--client NAME` (one of `clients`)."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument('--path',
                        required=True,
                        help='broker socket path or host:port')
    parser.add_argument('--client',
                        choices=clients,
                        default=clients[0],
                        help='which published Python client to use')
    return parser.parse_args()


def unique_prefix():
    """A run-unique ASCII name chunk (no `.`, `/`, `%`), e.g. `it3fa91c0d`."""
    return 'it' + secrets.token_hex(4)


def check(cond, msg):
    """Like `assert`, but also active under `python -O`."""
    if not cond:
        raise AssertionError(msg)


def expect_code(got, want, what):
    """Fails unless the ACK/result code `got` equals `want`, naming both in hex."""
    shown = f'{got:#x}' if isinstance(got, int) else repr(got)
    check(got == want, f'{what}: expected code {want:#x}, got {shown}')


def done(scenario, client, path):
    """Prints the closing success line of a script."""
    print(f'OK {scenario} [{client}] {path}')
    sys.stdout.flush()


class _Loop:
    """One asyncio event loop running in a daemon thread, shared by all async peers."""

    _instance = None

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever,
                         name='asyncio',
                         daemon=True).start()

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def run(self, coro, what='async call'):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            # A little longer than WAIT, so a coroutine's own WAIT-bounded wait reports first.
            return fut.result(WAIT + 5)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise AssertionError(f'{what}: no result within {WAIT + 5} s') from None


class Received:
    """A frame a peer received: type, sender, topic (publications only), payload (bytes)."""

    def __init__(self, frame):
        self.type = frame.type
        self.sender = frame.sender
        self.topic = frame.topic
        self.payload = bytes(frame.payload)
        self.primary_sender = getattr(frame, 'primary_sender', None)

    def __repr__(self):
        return (f'Received(type={self.type:#x}, sender={self.sender!r}, '
                f'topic={self.topic!r}, payload={self.payload!r})')


class Peer:
    """One client connection made with the chosen Python package.

    Frames that reach `on_frame` (everything that is not an ACK, NOP or, once `rpc()` is
    enabled, an RPC frame) are queued in `inbox` in arrival order.
    """

    def __init__(self, kind, path, name):
        self.kind = kind
        self.path = path
        self.name = name
        self.is_async = kind.endswith('_async')
        self.mod = importlib.import_module(f'{kind}.client')
        self.rpc_mod = importlib.import_module(f'{kind}.rpc')
        self.inbox = queue.Queue()
        self.client = None
        self.rpc_engine = None

    # -- plumbing -------------------------------------------------------------------------------

    def _run(self, coro, what):
        return _Loop.get().run(coro, f'{self.kind} {self.name}: {what}')

    def _on_frame_callable(self):
        if self.is_async:

            async def on_frame(frame):
                self.inbox.put(Received(frame))

            return on_frame
        return lambda frame: self.inbox.put(Received(frame))

    def _send(self, target, frame):
        """Sends a frame; returns the ClientFrame (ACK handle)."""
        if self.is_async:
            return self._run(self.client.send(target, frame), 'send')
        return self.client.send(target, frame)

    def _wait_ack(self, client_frame, what):
        try:
            if self.is_async:
                return self._run(client_frame.wait_completed(timeout=WAIT),
                                 what)
            return client_frame.wait_completed(timeout=WAIT)
        except (TimeoutError, asyncio.TimeoutError):
            raise AssertionError(
                f'{self.name}: no ACK for {what} within {WAIT} s')

    # -- connection -----------------------------------------------------------------------------

    def connect(self):
        """Connects and registers; raises the client's own error (e.g. RuntimeError)."""
        if self.is_async:

            async def make():
                return self.mod.Client(self.path, self.name)

            self.client = self._run(make(), 'create client')
        else:
            self.client = self.mod.Client(self.path, self.name)
        self.client.timeout = CLIENT_TIMEOUT
        self.client.on_frame = self._on_frame_callable()
        if self.is_async:
            self._run(self.client.connect(), 'connect')
        else:
            self.client.connect()
        return self

    def disconnect(self):
        """Closes the connection from the client side."""
        if self.is_async:
            self._run(self.client.disconnect(), 'disconnect')
        else:
            self.client.disconnect()

    def is_connected(self):
        """The client's own idea of whether it is connected."""
        return self.client.is_connected()

    # -- frames ---------------------------------------------------------------------------------

    def message(self, target, payload, qos=1):
        """Sends a one-to-one message; returns the ACK code (1 at once for QoS 0/2)."""
        frame = self.mod.Frame(payload, tp=self.mod.OP_MESSAGE, qos=qos)
        return self._wait_ack(self._send(target, frame),
                              f'message to {target!r}')

    def broadcast(self, mask, payload, qos=1):
        """Sends a broadcast; returns the ACK code."""
        frame = self.mod.Frame(payload, tp=self.mod.OP_BROADCAST, qos=qos)
        return self._wait_ack(self._send(mask, frame), f'broadcast {mask!r}')

    def publish(self, topic, payload, qos=1):
        """Publishes to a topic; returns the ACK code."""
        frame = self.mod.Frame(payload, tp=self.mod.OP_PUBLISH, qos=qos)
        return self._wait_ack(self._send(topic, frame), f'publish {topic!r}')

    def subscribe(self, topics):
        """Subscribes with a QoS-1 frame (the clients' `subscribe()` is QoS 0) and returns the
        real ACK code, so the subscription is in place when this returns."""
        return self._sub_op(self.mod.OP_SUBSCRIBE, topics, 'subscribe')

    def unsubscribe(self, topics):
        """Unsubscribes with a QoS-1 frame; returns the ACK code."""
        return self._sub_op(self.mod.OP_UNSUBSCRIBE, topics, 'unsubscribe')

    def _sub_op(self, op, topics, what):
        frame = self.mod.Frame(tp=op, qos=1)
        frame.topic = list(topics) if not isinstance(topics, str) else topics
        return self._wait_ack(self._send(None, frame), f'{what} {topics!r}')

    def next_frame(self, what):
        """The next received frame; fails after WAIT seconds."""
        try:
            return self.inbox.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(
                f'{self.name}: no frame within {WAIT} s while waiting for {what}'
            ) from None

    def frames_until(self, sender, payload, what):
        """Returns the frames received before the message `payload` from `sender` (a fence),
        consuming the fence as well."""
        before = []
        while True:
            frame = self.next_frame(what)
            if frame.sender == sender and frame.payload == payload:
                return before
            before.append(frame)

    # -- RPC ------------------------------------------------------------------------------------

    def rpc(self, handler=None):
        """Wraps the client in the package's `Rpc`. `handler(method: bytes, params: bytes)`
        returns the reply bytes or raises `RpcException`; notifications are queued in
        `inbox` as `('notification', sender, payload)` tuples."""
        engine = self.rpc_mod.Rpc(self.client)
        engine.on_frame = self._on_frame_callable()
        if self.is_async:

            async def on_call(event):
                return handler(event.method, event.get_payload())

            async def on_notification(event):
                self.inbox.put(('notification', event.frame.sender,
                                bytes(event.get_payload())))
        else:

            def on_call(event):
                return handler(event.method, event.get_payload())

            def on_notification(event):
                self.inbox.put(('notification', event.frame.sender,
                                bytes(event.get_payload())))

        if handler is not None:
            engine.on_call = on_call
        engine.on_notification = on_notification
        self.rpc_engine = engine
        return self

    def call(self, target, method, params=b''):
        """RPC call; returns the reply payload (bytes) or raises the package's RpcException."""
        request = self.rpc_mod.Request(method, params)
        what = f'rpc call {target!r} {method!r}'
        try:
            if self.is_async:
                event = self._run(self.rpc_engine.call(target, request), what)
                return bytes(
                    self._run(event.wait_completed(timeout=WAIT),
                              what).get_payload())
            event = self.rpc_engine.call(target, request)
            return bytes(event.wait_completed(timeout=WAIT).get_payload())
        except (TimeoutError, asyncio.TimeoutError):
            raise AssertionError(f'{self.name}: no reply to {what} within '
                                 f'{WAIT} s') from None

    def notify(self, target, payload):
        """Sends an RPC notification; returns the ACK code."""
        frame = self.rpc_mod.Notification(payload)
        return self._wait_ack(self._send(target, frame),
                              f'notification to {target!r}')

    def call0(self, target, method, params=b''):
        """RPC call with call id 0 (no reply expected); returns the ACK code."""
        request = self.rpc_mod.Request(method, params)
        if self.is_async:
            cf = self._run(self.rpc_engine.call0(target, request), 'call0')
        else:
            cf = self.rpc_engine.call0(target, request)
        return self._wait_ack(cf, f'call0 {target!r} {method!r}')

    @property
    def RpcException(self):
        """The package's RpcException class."""
        return self.rpc_mod.RpcException


def announcement(frame):
    """Decodes a `.broker/info` announcement frame into a dict, or returns None."""
    if frame.sender != '.broker' or frame.topic != '.broker/info':
        return None
    return msgpack.unpackb(frame.payload)


def wait_unreg(observer, name):
    """Waits until `observer` (subscribed to `.broker/info`) sees the unreg announcement of
    `name`; other frames it receives meanwhile are dropped."""
    while True:
        frame = observer.next_frame(f'the unreg announcement of {name!r}')
        if isinstance(frame, Received):
            event = announcement(frame)
            if event is not None and event.get('s') == 'unreg' and event.get(
                    'd') == name:
                return


def connect_refused(kind, path, name):
    """Tries to register `name`; returns the error text (or None if it was accepted, after
    disconnecting again)."""
    peer = Peer(kind, path, name)
    try:
        peer.connect()
    except RuntimeError as e:
        return str(e)
    peer.disconnect()
    return None
