"""Calls the typed Rust gauge service of tests/typed_error_data.rs with the PyPI `busrt` sync
client and reads its data-carrying errors the way a Python peer does: the human message is the
first line of the UTF-8 error text, the fields are the msgpack in hex on its `rpc-data:` line.

Usage: typed_error_data.py PATH NAME TARGET

Prints "OK" and exits 0 when every check passes.
"""

import sys

import msgpack
from busrt import client as client_mod
from busrt import rpc as rpc_mod

path, name, target = sys.argv[1:4]
TIMEOUT = 10
MARKER = '\nrpc-data: '

client = client_mod.Client(path, name)
rpc = rpc_mod.Rpc(client)
client.connect()


def error(which):
    try:
        rpc.call(target, rpc_mod.Request('gauge.fail', msgpack.dumps(
            {'which': which}))).wait_completed(timeout=TIMEOUT)
    except rpc_mod.RpcException as e:
        return e.rpc_error_code, e.rpc_error_payload.decode()
    raise AssertionError(f'{which} did not fail')


def split(text):
    message, _, data = text.partition(MARKER)
    return message, (msgpack.loads(bytes.fromhex(data)) if data else None)


code, text = error('range')
assert code == 10, code
assert split(text) == ('value 12 out of range 0..10',
                       {'value': 12, 'min': 0, 'max': 10}), text
assert text.splitlines()[0] == 'value 12 out of range 0..10', text
code, text = error('io')
assert (code, split(text)) == (11, ('disk gone: ½', None)), text
code, text = error('pair')
assert (code, split(text)) == (12, ('channels 3 and 4 disagree', [3, 4])), text
code, text = error('off')
assert (code, split(text)) == (13, ('The gauge is switched off.', None)), text
code, text = error('calibration')
assert (code, split(text)) == (14, ('A calibration failed (its fields travel behind the '
                                    "doc comment's message).",
                                    {'step': 7, 'reason': 'drift'})), text

client.disconnect()
print('OK', flush=True)
