"""The one place that turns a call into busrt frames and a reply into a value or an exception."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import msgpack  # type: ignore[import-untyped]
from busrt.rpc import Request, Rpc, RpcException  # type: ignore[import-untyped]

from .errors import CallTimeout, ServiceErrors, TransportError, error_for


class Caller:
    """Calls methods of one bus target through a busrt `Rpc`, waiting at most `timeout` s."""

    def __init__(self, rpc: Rpc, target: str, timeout: float) -> None:
        self.rpc = rpc
        self.target = target
        self.timeout = timeout

    def call(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        errors: Optional[ServiceErrors] = None,
    ) -> Any:
        """Calls `method` with a msgpack map of `params`; the decoded result (None if empty)."""
        payload = b'' if params is None else msgpack.dumps(dict(params), use_bin_type=True)
        try:
            reply = self.rpc.call(self.target, Request(method, payload)).wait_completed(
                timeout=self.timeout)
        except RpcException as e:
            raise error_for(e.rpc_error_code, e.rpc_error_payload, errors) from None
        except TimeoutError:
            raise CallTimeout(f'{method}: no reply within {self.timeout} s') from None
        body = reply.get_payload()
        if not body:
            return None
        return msgpack.loads(body, raw=False)

    def notify(self, method: str, params: Optional[Mapping[str, Any]] = None) -> None:
        """Sends a one-way call (call id 0); returns once the broker has accepted it."""
        payload = b'' if params is None else msgpack.dumps(dict(params), use_bin_type=True)
        try:
            code = self.rpc.call0(self.target, Request(method, payload)).wait_completed(
                timeout=self.timeout)
        except TimeoutError:
            raise CallTimeout(f'{method}: the broker did not acknowledge it') from None
        if code != 1:
            raise TransportError(f'{method}: the bus refused it', -32000 - code)

