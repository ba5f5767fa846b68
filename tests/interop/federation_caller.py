"""Calls the typed `calc_server` example served on another node of a federation, with the PyPI
`busrt` sync client connected to this node's broker: the target is `svc.calc@NODE`, and nothing
in the client knows about federation.

Usage: federation_caller.py PATH NODE

Prints one line per check (the Rust test, tests/federation_bus.rs, compares them) and exits 0;
a failed check exits non-zero with the reason on stderr. The calls to a missing name on that
node and to an unknown node must fail within TIMEOUT_FAST (a bound, not a measurement).
"""

import sys

import msgpack
from busrt import client as client_mod
from busrt import rpc as rpc_mod

path, node = sys.argv[1:3]
TIMEOUT = 10
TIMEOUT_FAST = 1

client = client_mod.Client(path, 'py.fed.caller')
rpc = rpc_mod.Rpc(client)
client.connect()


def call(target, method, timeout, **params):
    request = rpc_mod.Request(method, msgpack.dumps(params))
    return rpc.call(target, request).wait_completed(timeout=timeout)


def error_code(target, method, timeout):
    try:
        call(target, method, timeout)
    except rpc_mod.RpcException as e:
        return e.rpc_error_code
    raise AssertionError(f'{target} {method} did not fail')


reply = call(f'svc.calc@{node}', 'calc.add', TIMEOUT, a=2, b=40)
print('add', msgpack.loads(reply.get_payload()))
reply = call(f'svc.calc@{node}', 'calc.hello', TIMEOUT)
print('hello', msgpack.loads(reply.get_payload()))
print('nobody', error_code(f'svc.nobody@{node}', 'calc.add', TIMEOUT_FAST))
print('unknown node', error_code('svc.calc@zz', 'calc.add', TIMEOUT_FAST))
client.disconnect()
