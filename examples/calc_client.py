"""Calls the `calc_server` example (a typed Rust service) from Python with the PyPI `busrt`
sync client: params are a msgpack map, results are msgpack, errors are `RpcException`.

    pip install busrt msgpack
    cargo run --example calc_server &        # on a broker at /tmp/elbus.sock
    python examples/calc_client.py [PATH]
"""

import sys

import msgpack
from busrt.client import Client
from busrt.rpc import Request, Rpc, RpcException

path = sys.argv[1] if len(sys.argv) > 1 else '/tmp/elbus.sock'
client = Client(path, 'calc.client.py')
rpc = Rpc(client)
client.connect()


def call(method, **params):
    reply = rpc.call('svc.calc', Request(method, msgpack.dumps(params)))
    return msgpack.loads(reply.wait_completed(timeout=5).get_payload())


print('add =', call('calc.add', a=2, b=40))
print('sum =', call('calc.sum', xs=[1, 2, 3], scale=10))
print('hello =', call('calc.hello'))
try:
    call('calc.div', a=1, b=0)
except RpcException as e:
    print('div failed:', e.rpc_error_code, e.rpc_error_payload.decode())
rpc.call0('svc.calc', Request('calc.reset')).wait_completed(timeout=5)
client.disconnect()
