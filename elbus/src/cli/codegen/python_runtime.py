# fmt: off
from __future__ import annotations

import threading
import warnings
from typing import (Any, Dict, Iterator, List, Literal, NotRequired, Optional, Sequence, Tuple,
                    Type, TypedDict, TypeVar, Union, cast)

import msgpack  # type: ignore[import-untyped]
from busrt.rpc import Request, Rpc, RpcException  # type: ignore[import-untyped]

DATA_MARKER = '\nrpc-data: '


class RpcError(Exception):
    """A call failed: `code` is the wire code, `message` its first line, `data` the fields."""

    code: int = 0

    def __init__(self, message: str, code: Optional[int] = None, data: Any = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.data = data

    def __str__(self) -> str:
        return f'{self.message} (code {self.code})'


class MethodNotFound(RpcError):
    """-32601: the service has no such method."""

    code = -32601


class InvalidParams(RpcError):
    """-32602: the params did not decode on the server."""

    code = -32602


class InternalError(RpcError):
    """-32603: the server's result did not encode."""

    code = -32603


class CursorNotFound(RpcError):
    """-32001: a stream's cursor is unknown, finished, closed, expired or another caller's."""

    code = -32001


class Busy(RpcError):
    """-32118: the server refused for now (too many open streams, a pull already running)."""

    code = -32118


class TransportError(RpcError):
    """-32255..=-32101: the bus failed the call (no such target, a full queue, the broker)."""


class CallTimeout(TransportError):
    """No reply within the client's timeout."""

    code = -32120


_FIXED: Dict[int, Type[RpcError]] = {
    c.code: c for c in (MethodNotFound, InvalidParams, InternalError, CursorNotFound, Busy)}


def decode_event(payload: bytes) -> Dict[str, Any]:
    """An event payload's fields (an empty payload is a unit variant's `{}`)."""
    fields = msgpack.loads(payload, raw=False) if payload else {}
    if not isinstance(fields, dict):
        raise ValueError('an event payload must be a msgpack map')
    return fields


class Caller:
    """Sends the calls of one generated client; checks the schema hash on first use."""

    def __init__(self, client: Any, target: str, rpc: Any, timeout: float,
                 errors: Dict[int, Type[RpcError]], schema_hash: Optional[str]) -> None:
        self.rpc = rpc if rpc is not None else Rpc(client)
        self.target = target
        self.timeout = timeout
        self.errors = errors
        self._hash = schema_hash
        self._checked = schema_hash is None
        self._lock = threading.Lock()

    def _error(self, code: int, payload: Any) -> RpcError:
        raw = bytes(payload) if isinstance(payload, (bytes, bytearray, memoryview)) else b''
        text = raw.decode('utf-8', errors='replace') if raw else str(payload or '')
        message, marker, hex_fields = text.partition(DATA_MARKER)
        data = None
        if marker:
            try:
                data = msgpack.loads(bytes.fromhex(hex_fields.strip()), raw=False)
            except ValueError:
                message = text
        cls = self.errors.get(code) or _FIXED.get(code)
        if cls is None and -32255 <= code <= -32101:
            cls = CallTimeout if code == CallTimeout.code else TransportError
        return (cls or RpcError)(message, code, data)

    def _send(self, method: str, params: Sequence[Tuple[str, Any]]) -> Any:
        body = {key: value for key, value in params if value is not None}
        payload = msgpack.dumps(body, use_bin_type=True)
        try:
            reply = self.rpc.call(self.target, Request(method, payload)).wait_completed(
                timeout=self.timeout)
        except RpcException as e:
            raise self._error(e.rpc_error_code, e.rpc_error_payload) from None
        except TimeoutError:
            raise CallTimeout(f'{method}: no reply within {self.timeout} s') from None
        data = reply.get_payload()
        return msgpack.loads(data, raw=False) if data else None

    def _check(self) -> None:
        with self._lock:
            if self._checked:
                return
            self._checked = True
        described = self._send('rpc.describe', [])
        live = described.get('hash') if isinstance(described, dict) else None
        if live != self._hash:
            warnings.warn(
                f'{self.target} now describes schema {live}, this module was generated from '
                f'{self._hash}: regenerate it (elbus PATH rpc codegen --python {self.target})',
                RuntimeWarning, stacklevel=4)

    def call(self, method: str, params: Sequence[Tuple[str, Any]]) -> Any:
        """Calls `method`; the decoded result (None for an empty reply)."""
        self._check()
        return self._send(method, params)

    def notify(self, method: str, params: Sequence[Tuple[str, Any]]) -> None:
        """Sends a one-way call; returns once the broker accepted it."""
        self._check()
        body = {key: value for key, value in params if value is not None}
        try:
            code = self.rpc.call0(self.target, Request(
                method, msgpack.dumps(body, use_bin_type=True))).wait_completed(
                    timeout=self.timeout)
        except TimeoutError:
            raise CallTimeout(f'{method}: the broker did not acknowledge it') from None
        if code != 1:
            raise TransportError(f'{method}: the bus refused it', -32000 - code)

    def stream(self, method: str, params: Sequence[Tuple[str, Any]], batch: int) -> Cursor[Any]:
        """Opens a pull stream now; its items are pulled `batch` per `NB` while iterated."""
        if batch < 1:
            raise ValueError('batch must be at least 1')
        opened = self.call(method, params)
        cursor = opened.get('u') if isinstance(opened, dict) else None
        if not isinstance(cursor, bytes):
            raise InternalError('the stream call did not answer a cursor {"u": bytes}', -32603)
        return Cursor(self, cursor, batch)


T = TypeVar('T')


class Cursor(Iterator[T]):
    """An open stream: iterate it; `close()` (or `with`) ends it early on the server."""

    def __init__(self, caller: Caller, cursor_id: bytes, batch: int) -> None:
        self.id = cursor_id
        self._caller = caller
        self._batch = batch
        self._buffer: List[T] = []
        self._finished = False

    def __iter__(self) -> Cursor[T]:
        return self

    def __next__(self) -> T:
        if not self._buffer and not self._finished:
            try:
                items = self._caller._send('NB', [('u', self.id), ('n', self._batch)])
            except RpcError:
                self._finished = True
                raise
            if not isinstance(items, list):
                self._finished = True
                raise InternalError('NB did not answer an array', -32603)
            self._finished = len(items) < self._batch
            self._buffer = items[::-1]
        if self._buffer:
            return self._buffer.pop()
        raise StopIteration

    def close(self) -> None:
        """Ends the stream on the server if it has not ended."""
        if self._finished:
            return
        self._finished = True
        try:
            self._caller._send('rpc.cursor.close', [('u', self.id)])
        except RpcError:
            pass

    def __enter__(self) -> Cursor[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


