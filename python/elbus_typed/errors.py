"""The exceptions a typed call raises: one class per error code.

A failed call answers an i16 code and a UTF-8 message; a variant with fields appends
`"\\nrpc-data: " + hex(msgpack(fields))` (docs/typed-rpc.md, section 4.3). Codes the runtime
and the bus answer with have fixed classes here; a service's own codes get a class per variant,
made from its `rpc.describe` (`ServiceErrors`).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Type

import msgpack  # type: ignore[import-untyped]

from .describe import ErrorCode

DATA_MARKER = '\nrpc-data: '


class RpcError(Exception):
    """A call failed: `code` is the wire code, `message` the first line, `data` the fields."""

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
    """No reply within the proxy's timeout (or -32120 from the bus)."""

    code = -32120


_FIXED: Dict[int, Type[RpcError]] = {
    cls.code: cls for cls in (MethodNotFound, InvalidParams, InternalError, CursorNotFound, Busy)
}


class ServiceErrors:
    """A service's own error classes, one per variant, as attributes named after the variant.

    Each is a subclass of `RpcError` with the variant's `code`; `by_code` finds one.
    """

    def __init__(self, service: str, codes: Iterable[ErrorCode]) -> None:
        self.by_code: Dict[int, Type[RpcError]] = {}
        for error in codes:
            cls = type(
                error.name,
                (RpcError,),
                {'code': error.code, '__doc__': error.description or error.name,
                 '__module__': f'elbus_typed.services.{service}'},
            )
            self.by_code[error.code] = cls
            setattr(self, error.name, cls)

    def __getattr__(self, name: str) -> Type[RpcError]:
        raise AttributeError(f'the service has no error variant {name!r}')


def split_message(text: str) -> tuple[str, Any]:
    """Splits error data into its message and its decoded fields (None without fields)."""
    message, marker, hex_fields = text.partition(DATA_MARKER)
    if not marker:
        return text, None
    try:
        return message, msgpack.loads(bytes.fromhex(hex_fields.strip()), raw=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return text, None


def error_for(code: int, payload: Any, service: Optional[ServiceErrors]) -> RpcError:
    """The exception for an error reply with this code and data (bytes or str)."""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        text = bytes(payload).decode('utf-8', errors='replace')
    else:
        text = str(payload or '')
    message, data = split_message(text)
    cls: Optional[Type[RpcError]] = service.by_code.get(code) if service else None
    if cls is None:
        cls = _FIXED.get(code)
    if cls is None and code == CallTimeout.code:
        cls = CallTimeout
    if cls is None and -32255 <= code <= -32101:
        return TransportError(message or 'the bus failed the call', code, data)
    if cls is None:
        return RpcError(message, code, data)
    return cls(message, code, data)
