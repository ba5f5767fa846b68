"""Calls the typed Rust store service of tests/typed_bytes.rs with the PyPI `busrt` sync client:
Python `bytes` (msgpack `bin`) reach its `#[rpc(bytes)]` params whole, and its `#[rpc(bytes)]`
results arrive as Python `bytes`.

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


def call(method, params):
    reply = rpc.call(target, rpc_mod.Request(method, msgpack.dumps(params))).wait_completed(
        timeout=TIMEOUT)
    return msgpack.loads(reply.get_payload())


blob = bytes(range(256))
assert call('store.put', {'data': blob, 'tag': b'\x00'}) == [list(blob), [0]]
assert call('store.put', {'data': b''}) == [[], None]

filled = call('store.fill', {'len': 300})
assert isinstance(filled, bytes) and filled == bytes(i % 256 for i in range(300)), filled
assert call('store.echo', {'data': blob}) == blob
assert call('store.echo', {'data': b''}) is None

client.disconnect()
print('OK', flush=True)
