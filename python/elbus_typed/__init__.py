"""Typed Python clients for elbus `#[rpc]` services, over the PyPI `busrt` client.

    from busrt.client import Client
    from elbus_typed import Proxy

    client = Client('/run/elbus.sock', 'py.app'); client.connect()
    calc = Proxy(client, 'svc.calc')
    calc.add(a=40, b=2)                      # 42
    for item in calc.history(limit=10): ...  # a pull stream
    calc.events.added.subscribe(print)       # events, decoded

The wire contract is the repository's docs/typed-rpc.md.
"""

from .errors import (Busy, CallTimeout, CursorNotFound, InternalError, InvalidParams,
                     MethodNotFound, RpcError, TransportError)
from .events import ReceivedEvent, Subscription
from .proxy import NOT_SENT, Proxy
from .streams import Cursor

__all__ = [
    'Busy', 'CallTimeout', 'Cursor', 'CursorNotFound', 'InternalError', 'InvalidParams',
    'MethodNotFound', 'NOT_SENT', 'Proxy', 'ReceivedEvent', 'RpcError', 'Subscription',
    'TransportError',
]
