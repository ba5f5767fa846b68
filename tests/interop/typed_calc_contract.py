"""The `calc` example's events and history stream, seen by a Python peer with nothing but the
PyPI `busrt` client and `msgpack` (docs/typed-rpc.md §8 and §9).

Usage: typed_calc_contract.py PATH

The Rust test (tests/typed_calc_contract.rs) serves `examples/calc_api` as `svc.calc`. Checks:
every successful `calc.add` publishes `calc/added` with `{"a", "b", "sum"}`; `calc.history
{"limit": n}` answers `{"u": <16 bytes>}`, `NB {"u", "n"}` arrays of the same maps (the most
recent adds, oldest first, fewer than n at the end), `N {"u"}` one item or an empty payload;
an unknown or closed cursor is -32001; `rpc.stream.open` pushes the same items as
notifications `{"s", "q", "d"}` and an end marker; `rpc.describe` lists the events and marks
the stream.
Prints "OK" and exits 0 when every check passes.
"""

import queue
import sys

import msgpack
from busrt import client as client_mod
from busrt import rpc as rpc_mod

path = sys.argv[1]
TARGET = 'svc.calc'
TIMEOUT = 10

client = client_mod.Client(path, 'py.calc.watcher')
rpc = rpc_mod.Rpc(client)
frames = queue.Queue()
rpc.on_frame = lambda frame: frames.put(frame)
notifications = queue.Queue()
rpc.on_notification = lambda event: notifications.put(event.get_payload())
client.connect()


def call(method, params=None):
    payload = b'' if params is None else msgpack.dumps(params)
    return rpc.call(TARGET, rpc_mod.Request(method, payload)).wait_completed(
        timeout=TIMEOUT).get_payload()


def result(method, params=None):
    return msgpack.loads(call(method, params))


def error_code(method, params=None):
    try:
        call(method, params)
    except rpc_mod.RpcException as e:
        return e.rpc_error_code
    raise AssertionError(f'{method} did not fail')


def next_event():
    while True:
        frame = frames.get(timeout=TIMEOUT)
        if frame.topic == 'calc/added':
            return msgpack.loads(frame.payload)


# Events: subscribe (waiting for the ACK), then every successful add publishes one.
assert client.subscribe(['calc/added']).wait_completed(timeout=TIMEOUT) == 1
adds = [(40, 2), (1, 2), (3, 4), (-5, 5)]
for a, b in adds:
    assert result('calc.add', {'a': a, 'b': b}) == a + b
    event = next_event()
    assert event == {'a': a, 'b': b, 'sum': a + b}, event
# A failed add publishes nothing: the next event is the next successful add.
assert error_code('calc.add', {'a': 2**62, 'b': 2**62}) == 1001
assert result('calc.add', {'a': 7, 'b': 8}) == 15
assert next_event() == {'a': 7, 'b': 8, 'sum': 15}
adds.append((7, 8))
expected = [{'a': a, 'b': b, 'sum': a + b} for a, b in adds]

# The history stream over NB: the last 3, oldest first; fewer than n means finished.
opened = result('calc.history', {'limit': 3})
u = opened['u']
assert isinstance(u, bytes) and len(u) == 16, opened
batch = result('NB', {'u': u, 'n': 2})
assert batch == expected[-3:-1], batch
batch = result('NB', {'u': u, 'n': 2})
assert batch == expected[-1:], batch
assert error_code('NB', {'u': u, 'n': 2}) == -32001

# Over N: one item per call, then an empty payload.
u = result('calc.history', {'limit': 100})['u']
items = []
while True:
    payload = call('N', {'u': u})
    if not payload:
        break
    items.append(msgpack.loads(payload))
assert items == expected, items

# An explicit close; unknown cursors.
u = result('calc.history', {'limit': 2})['u']
assert call('rpc.cursor.close', {'u': u}) == b''
assert error_code('NB', {'u': u, 'n': 1}) == -32001
assert error_code('N', {'u': b'\0' * 16}) == -32001

# The same history as a push stream: items arrive as notifications {"s", "q", "d"}, then
# {"s", "q", "end": True}; the caller picks "s" and grants the credit "c".
opened = result('rpc.stream.open', {'m': 'calc.history', 'p': msgpack.dumps({'limit': 3}),
                                    's': 7, 'c': 10})
assert opened == {'s': 7}, opened
pushed = [msgpack.loads(notifications.get(timeout=TIMEOUT)) for _ in range(4)]
# The PyPI client runs each notification handler in a thread of its own: order by "q".
pushed.sort(key=lambda m: m['q'])
assert [m['q'] for m in pushed] == [0, 1, 2, 3], pushed
assert all(m['s'] == 7 for m in pushed), pushed
assert [m['d'] for m in pushed[:3]] == expected[-3:], pushed
assert pushed[3].get('end') is True, pushed
assert error_code('rpc.stream.credit', {'s': 7, 'n': 1}) == -32001

# rpc.describe: the events, and history marked as a stream.
svc = result('rpc.describe')['services'][0]
topics = [e['topic'] for e in svc['events']]
assert topics == ['calc/added'], svc['events']
fields = [(f['name'], f['type']) for f in svc['events'][0]['fields']]
assert fields == [('a', 'i64'), ('b', 'i64'), ('sum', 'i64')], fields
methods = {m['name']: m for m in svc['methods']}
assert methods['calc.history']['stream'] is True
assert methods['calc.history']['returns'] == 'Added'
assert methods['calc.add']['stream'] is False

client.disconnect()
print('OK')
