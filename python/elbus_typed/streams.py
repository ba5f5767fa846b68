"""A `#[rpc(stream)]` method's results as a Python iterator, pulled in batches with `NB`.

The call answers `{"u": <16-byte cursor id>}`; `NB {"u", "n"}` answers up to `n` items and
fewer than `n` means the end; `rpc.cursor.close {"u"}` ends it early (docs/typed-rpc.md, 9).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Deque, Iterator, Optional

from .calls import Caller
from .errors import RpcError, ServiceErrors

DEFAULT_BATCH = 64


class Cursor(Iterator[Any]):
    """The items of one open stream. Iterate it; `close()` (or `with`) ends it early."""

    def __init__(self, caller: Caller, cursor_id: bytes, batch: int,
                 errors: Optional[ServiceErrors]) -> None:
        if batch < 1:
            raise ValueError('batch must be at least 1')
        self._caller = caller
        self._id = cursor_id
        self._batch = batch
        self._errors = errors
        self._buffer: Deque[Any] = deque()
        self._finished = False

    @property
    def id(self) -> bytes:
        """The cursor id the server gave."""
        return self._id

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> Any:
        if not self._buffer and not self._finished:
            self._pull()
        if self._buffer:
            return self._buffer.popleft()
        raise StopIteration

    def _pull(self) -> None:
        try:
            items = self._caller.call('NB', {'u': self._id, 'n': self._batch}, self._errors)
        except RpcError:
            self._finished = True
            raise
        if not isinstance(items, list):
            self._finished = True
            raise RpcError(f'NB answered {type(items).__name__}, not an array', -32603)
        self._buffer.extend(items)
        if len(items) < self._batch:
            self._finished = True

    def close(self) -> None:
        """Ends the stream on the server if it has not ended; items already pulled stay."""
        if self._finished:
            return
        self._finished = True
        try:
            self._caller.call('rpc.cursor.close', {'u': self._id})
        except RpcError:
            pass  # already gone on the server (expired, or the service restarted)

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cursor(caller: Caller, opening_reply: Any, batch: int,
                errors: Optional[ServiceErrors]) -> Cursor:
    """The cursor of a stream call's reply `{"u": id}`."""
    cursor_id = opening_reply.get('u') if isinstance(opening_reply, dict) else None
    if not isinstance(cursor_id, bytes):
        raise RpcError('the stream call did not answer a cursor {"u": bytes}', -32603)
    return Cursor(caller, cursor_id, batch, errors)
