"""Calls the typed Rust store service of tests/typed_bytes.rs with the PyPI `busrt` sync client:
Python `bytes` (msgpack `bin`) reach its `#[rpc(bytes)]` params whole.

Usage: typed_bytes.py PATH NAME TARGET

Prints "OK" and exits 0 when every check passes.
"""

import sys

import msgpack
from busrt import client as client_mod
from busrt import rpc as rpc_mod

path, name, target = sys.argv[1:4]
TIMEOUT = 10

client = client_mod.Client(path, name)
rpc = rpc_mod.Rpc(client)
client.connect()


def put(params):
    reply = rpc.call(target, rpc_mod.Request('store.put', msgpack.dumps(params))).wait_completed(
        timeout=TIMEOUT)
    return msgpack.loads(reply.get_payload())


blob = bytes(range(256))
assert put({'data': blob, 'tag': b'\x00'}) == [list(blob), [0]]
assert put({'data': b''}) == [[], None]

client.disconnect()
print('OK', flush=True)
