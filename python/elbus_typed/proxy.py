"""`Proxy`: a typed service on the bus as a Python object, built from one `rpc.describe`.

Each method becomes a Python method with a real `inspect.Signature` (the params in wire order,
optional ones defaulting to "not sent") and the Rust doc comment as its docstring; a stream
method returns a `Cursor`; each error variant is a class under `proxy.errors`; each event is
an `EventType` under `proxy.events`, named in snake case (`Added` -> `proxy.events.added`).
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Dict, List, Optional

from busrt.rpc import Rpc  # type: ignore[import-untyped]

from .calls import Caller
from .describe import Method, Service, parse_services
from .errors import ServiceErrors
from .events import EventHub, EventType
from .streams import DEFAULT_BATCH, Cursor, open_cursor


class _NotSent:
    """The default of an optional param: the key is left out, so the server's default holds."""

    def __repr__(self) -> str:
        return 'NOT_SENT'


NOT_SENT: Any = _NotSent()
"""The default of every optional param in a proxy method's signature."""


def snake_case(name: str) -> str:
    """`Added` -> `added`, `RoomTotal` -> `room_total`."""
    return re.sub(r'(?<=[a-z0-9])([A-Z])', r'_\1', name).lower()


class _Events:
    """The service's events as attributes; iterate for all of them."""

    def __init__(self, events: Dict[str, EventType]) -> None:
        self._events = events

    def __getattr__(self, name: str) -> EventType:
        try:
            return self._events[name]
        except KeyError:
            raise AttributeError(f'the service has no event {name!r}') from None

    def __iter__(self) -> Any:
        return iter(self._events.values())


class Proxy:
    """A typed client of the service `target` serves, over a connected busrt `Client`.

    `service` picks one service when the router mounts several (by trait name, e.g. `"Calc"`);
    `rpc` reuses the caller's busrt `Rpc` (one is made otherwise: busrt allows one per client);
    `timeout` bounds every call and pull, in seconds.
    """

    def __init__(self, client: Any, target: str, *, service: Optional[str] = None,
                 rpc: Optional[Rpc] = None, timeout: float = 5.0) -> None:
        self._caller = Caller(rpc if rpc is not None else Rpc(client), target, timeout)
        services = parse_services(self._caller.call('rpc.describe'))
        self.schema: Service = self._pick(services, service, target)
        self.errors = ServiceErrors(self.schema.name, (
            code for codes in self.schema.errors.values() for code in codes))
        hub = EventHub(client, timeout)
        self.events = _Events({snake_case(e.name): EventType(hub, e) for e in self.schema.events})
        self.__doc__ = self.schema.description
        for method in self.schema.methods:
            setattr(self, method.rust_name, self._bind(method))

    @staticmethod
    def _pick(services: List[Service], wanted: Optional[str], target: str) -> Service:
        if wanted is not None:
            for service in services:
                if service.name == wanted:
                    return service
            raise LookupError(f'{target} serves no service {wanted!r}')
        if len(services) != 1:
            names = ', '.join(s.name for s in services) or 'none'
            raise LookupError(f'{target} serves {len(services)} services ({names}): pass service=')
        return services[0]

    def _bind(self, method: Method) -> Callable[..., Any]:
        signature = inspect.Signature([
            inspect.Parameter(
                param.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=inspect.Parameter.empty if param.required else NOT_SENT,
                annotation=param.type)
            for param in method.params
        ] + ([inspect.Parameter('batch', inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_BATCH,
                                annotation='int')] if method.stream else []),
            return_annotation='Cursor' if method.stream else (method.returns or 'None'))
        caller, errors = self._caller, self.errors

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            batch = arguments.pop('batch', DEFAULT_BATCH)
            params = {k: v for k, v in arguments.items() if v is not NOT_SENT}
            if method.notify:
                caller.notify(method.name, params)
                return None
            reply = caller.call(method.name, params, errors)
            if method.stream:
                return open_cursor(caller, reply, batch, errors)
            return reply

        call.__name__ = method.rust_name
        call.__qualname__ = f'{self.schema.name}.{method.rust_name}'
        call.__doc__ = self._docstring(method)
        setattr(call, '__signature__', signature)
        return call

    def _docstring(self, method: Method) -> str:
        lines = [method.description or method.name, '', f'Wire name: {method.name}.']
        if method.notify:
            lines.append('One-way: nothing is answered.')
        if method.stream:
            lines.append('A stream: returns a Cursor to iterate (pulled in batches of `batch`).')
        codes = self.schema.errors.get(method.error, ())
        if codes:
            lines.append('Raises: ' + ', '.join(f'{c.name} ({c.code})' for c in codes) + '.')
        return '\n'.join(lines)

    def __repr__(self) -> str:
        return f'<Proxy {self.schema.name} at {self._caller.target}>'


__all__ = ['Proxy', 'Cursor', 'NOT_SENT', 'snake_case']
