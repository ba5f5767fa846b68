"""A Python implementation of the typed `Calc` + `Echo` services (tests/support/typed.rs), written
the plain way with the PyPI `busrt` sync client: `on_call` decodes msgpack params (a map or an
array) and returns msgpack, errors are `RpcException(message, code)` (with the message as UTF-8
bytes when it may hold non-ASCII text: see `calc.fail`).

Usage: typed_server.py PATH NAME

Prints "READY" once registered, and "RESET <call id> <sender> <reason>" for each `calc.reset`.
Serves until it receives the notification `stop` (or 30 s pass), then exits 0.
"""

import sys
import threading

import msgpack
from busrt import client as client_mod
from busrt import rpc as rpc_mod

path, name = sys.argv[1:3]
stop = threading.Event()
I64_MAX = 2**63 - 1


def params_of(event, *names):
    """The named params, from a map or an array; missing ones are None."""
    raw = event.get_payload()
    params = msgpack.loads(raw) if raw else {}
    if params is None:
        params = {}
    if isinstance(params, (list, tuple)):
        return list(params) + [None] * (len(names) - len(params))
    return [params.get(n) for n in names]


def on_call(event):
    method = event.method.decode()
    sender = event.frame.sender
    if method == 'calc.add':
        a, b = params_of(event, 'a', 'b')
        if not isinstance(a, int) or not isinstance(b, int):
            raise rpc_mod.RpcException('a and b must be integers',
                                       rpc_mod.RPC_ERROR_CODE_INVALID_METHOD_PARAMS)
        if not -I64_MAX - 1 <= a + b <= I64_MAX:
            raise rpc_mod.RpcException('The result does not fit in an i64.', 1001)
        return msgpack.dumps(a + b)
    if method in ('calc.sum_all', 'calc.sum'):
        xs, scale = params_of(event, 'xs', 'scale')
        return msgpack.dumps(sum(xs) * (scale or 0))
    if method == 'calc.greet':
        who, greeting, old_name = params_of(event, 'who', 'greeting', 'name')
        return msgpack.dumps(f'{greeting or "hello"}, {who or old_name}')
    if method == 'calc.whoami':
        return msgpack.dumps([sender, sender.split('%%')[0]])
    if method == 'calc.clear':
        return None
    if method == 'calc.fail':
        (msg,) = params_of(event, 'msg')
        # Bytes, not str: busrt 0.1.2 sizes a str payload by its length in characters, so a
        # non-ASCII str message would be cut short and desynchronise the connection.
        raise rpc_mod.RpcException(msg.encode(), 1002)
    if method == 'calc.reset':
        (reason,) = params_of(event, 'reason')
        print('RESET', event.call_id, sender, reason, flush=True)
        return None
    if method == 'calc.hang':
        # Answers only when the service stops: the caller has given up by then.
        stop.wait(30)
        return None
    if method == 'echo.echo':
        (text,) = params_of(event, 'text')
        return msgpack.dumps(text)
    raise rpc_mod.RpcException('no such method',
                               rpc_mod.RPC_ERROR_CODE_METHOD_NOT_FOUND)


def on_notification(event):
    if event.get_payload() == b'stop':
        stop.set()


client = client_mod.Client(path, name)
rpc = rpc_mod.Rpc(client)
rpc.on_call = on_call
rpc.on_notification = on_notification
client.connect()
print('READY', flush=True)
stopped = stop.wait(30)
client.disconnect()
sys.exit(0 if stopped else 1)
