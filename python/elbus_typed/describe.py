"""What a service's `rpc.describe` reply says, as typed Python objects.

The reply is `{"services": [SERVICE, ...]}` (docs/typed-rpc.md, section 6). Unknown keys are
ignored, so a newer server's additions never break an older client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ''


def _items(value: Any) -> List[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


@dataclass(frozen=True)
class Param:
    """One param of a method: its wire name, Rust type and whether a caller must send it."""

    name: str
    type: str
    required: bool
    aliases: Tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Param:
        """Reads a PARAM map."""
        return cls(
            name=_text(raw.get('name')),
            type=_text(raw.get('type')),
            required=bool(raw.get('required', True)),
            aliases=tuple(_text(a) for a in raw.get('aliases') or ()),
        )


@dataclass(frozen=True)
class ErrorCode:
    """One error variant of a service and its stable wire code."""

    name: str
    code: int
    description: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ErrorCode:
        """Reads an ERROR map."""
        return cls(
            name=_text(raw.get('name')),
            code=int(raw.get('code', 0)),
            description=_text(raw.get('description')),
        )


@dataclass(frozen=True)
class Method:
    """One method: wire name, params in wire order, result type, and how it is called."""

    name: str
    rust_name: str
    description: str
    params: Tuple[Param, ...]
    returns: str
    error: str
    notify: bool
    stream: bool
    timeout_ms: Optional[int]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Method:
        """Reads a METHOD map."""
        timeout = raw.get('timeout_ms')
        return cls(
            name=_text(raw.get('name')),
            rust_name=_text(raw.get('rust_name')) or _text(raw.get('name')),
            description=_text(raw.get('description')),
            params=tuple(Param.parse(p) for p in _items(raw.get('params'))),
            returns=_text(raw.get('returns')),
            error=_text(raw.get('error')),
            notify=bool(raw.get('notify', False)),
            stream=bool(raw.get('stream', False)),
            timeout_ms=timeout if isinstance(timeout, int) else None,
        )


@dataclass(frozen=True)
class EventField:
    """One field of an event's payload map."""

    name: str
    type: str


@dataclass(frozen=True)
class Event:
    """One event (a variant of the service's event enum) and the topic it is published on."""

    name: str
    topic: str
    pattern: str
    description: str
    fields: Tuple[EventField, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Event:
        """Reads an EVENT map."""
        topic = _text(raw.get('topic'))
        return cls(
            name=_text(raw.get('name')),
            topic=topic,
            pattern=_text(raw.get('pattern')) or topic,
            description=_text(raw.get('description')),
            fields=tuple(
                EventField(_text(f.get('name')), _text(f.get('type')))
                for f in _items(raw.get('fields'))
            ),
        )


@dataclass(frozen=True)
class Service:
    """One service of a router: its methods, error codes and events."""

    name: str
    namespace: str
    version: Optional[str]
    description: str
    methods: Tuple[Method, ...]
    errors: Dict[str, Tuple[ErrorCode, ...]] = field(default_factory=dict)
    events: Tuple[Event, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Service:
        """Reads a SERVICE map."""
        version = raw.get('version')
        return cls(
            name=_text(raw.get('name')),
            namespace=_text(raw.get('namespace')),
            version=version if isinstance(version, str) else None,
            description=_text(raw.get('description')),
            methods=tuple(Method.parse(m) for m in _items(raw.get('methods'))),
            errors={
                _text(e.get('name')): tuple(ErrorCode.parse(c) for c in _items(e.get('codes')))
                for e in _items(raw.get('errors'))
            },
            events=tuple(Event.parse(e) for e in _items(raw.get('events'))),
        )


def parse_services(reply: Any) -> List[Service]:
    """Reads a whole `rpc.describe` reply; a reply that is not one is a `ValueError`."""
    if not isinstance(reply, dict) or not isinstance(reply.get('services'), list):
        raise ValueError('not an rpc.describe reply: no "services" list')
    return [Service.parse(s) for s in _items(reply['services'])]
