"""Calls the `sensors_server` example (a typed Rust service) from Python with only the PyPI
`busrt` sync client and `msgpack`: structs come back as dicts, enums as their variant name, a
typed error as `RpcException` (code + UTF-8 text: the message, then for errors with fields a
line `rpc-data: <hex of their MessagePack>`), bytes as MessagePack `bin` (Python `bytes`), and
the caller's deadline travels as the last params key `rpc.timeout_ms`.

    pip install busrt msgpack
    cargo run --example sensors_server &        # on a broker at /tmp/elbus.sock
    python examples/sensors_client.py [PATH]
"""

import sys

import msgpack
from busrt.client import Client
from busrt.rpc import Request, Rpc, RpcException

path = sys.argv[1] if len(sys.argv) > 1 else '/tmp/elbus.sock'
client = Client(path, 'sensors.client.py')
rpc = Rpc(client)
client.connect()


def error_of(e):
    """The code, message and fields (a dict, or None) of a typed error."""
    message, _, data = e.rpc_error_payload.decode().partition('\nrpc-data: ')
    return e.rpc_error_code, message, msgpack.loads(bytes.fromhex(data)) if data else None


def call(method, params=None):
    payload = b'' if params is None else msgpack.dumps(params)
    reply = rpc.call('svc.sensors', Request(method, payload))
    data = reply.wait_completed(timeout=10).get_payload()
    return msgpack.loads(data) if data else None


sensors = call('sensors.list')
print('list:', ' '.join('%s=%s' % (s['id'], s['kind']) for s in sensors))
reading = call('sensors.read', {'id': 't1'})
print('read:', reading['sensor'], reading['kind'])
try:
    call('sensors.read', {'id': 'x9'})
except RpcException as e:
    print('read x9:', *error_of(e))
try:
    # 60 s of settling, but this caller waits 300 ms: the server stops it and answers -32120.
    call('sensors.sample', {'id': 'h1', 'settle_ms': 60000, 'rpc.timeout_ms': 300})
except RpcException as e:
    print('slow sample:', e.rpc_error_code)
print('calibrate:', call('sensors.calibrate', {'id': 't1', 'table': b'\x00\x01\xff'}), 'bytes')
try:
    call('sensors.calibrate', {'id': 't1', 'table': bytes(100)})
except RpcException as e:
    print('calibrate 100:', *error_of(e))
client.disconnect()
