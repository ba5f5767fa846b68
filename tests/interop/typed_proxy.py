"""The repository's `elbus_typed.Proxy` (python/) against the `calc` example served as
`svc.calc`, over the PyPI `busrt` client: signatures and docstrings from `rpc.describe`, calls,
one exception class per error code, the history stream as an iterator, events decoded.

Usage: typed_proxy.py PATH

Run by tests/typed_proxy.rs (which puts python/ on PYTHONPATH). Prints "OK" when every check
passes.
"""

import inspect
import sys

from busrt.client import Client

import elbus_typed
from elbus_typed import NOT_SENT, Cursor, CursorNotFound, MethodNotFound, Proxy, RpcError

path = sys.argv[1]
client = Client(path, 'py.typed.proxy')
client.connect()
calc = Proxy(client, 'svc.calc', timeout=10)

# The describe: a real signature, the Rust doc comment, the errors listed.
sig = inspect.signature(calc.add)
assert list(sig.parameters) == ['a', 'b'], sig
assert all(p.default is inspect.Parameter.empty for p in sig.parameters.values()), sig
assert 'Adds two numbers' in calc.add.__doc__, calc.add.__doc__
assert 'Overflow (1001)' in calc.add.__doc__, calc.add.__doc__
assert inspect.signature(calc.sum).parameters['scale'].default is NOT_SENT
assert 'batch' in inspect.signature(calc.history).parameters
assert calc.schema.name == 'Calc' and calc.schema.namespace == 'calc'

# Calls, keyword and positional; an optional param left out takes the server's default.
assert calc.add(a=40, b=2) == 42
assert calc.add(1, 2) == 3
assert calc.sum(xs=[1, 2, 3]) == 6
assert calc.sum([1, 2, 3], scale=10) == 60
assert 'py.typed.proxy' in calc.hello(), calc.hello()
assert calc.reset() is None
try:
    calc.add(1)
    raise AssertionError('a missing param must be refused before anything is sent')
except TypeError:
    pass

# One exception class per error code.
try:
    calc.div(a=1, b=0)
    raise AssertionError('div by zero must fail')
except calc.errors.DivisionByZero as e:
    assert e.code == 1002 and isinstance(e, RpcError), e
try:
    calc.add(a=2**62, b=2**62)
    raise AssertionError('overflow must fail')
except calc.errors.Overflow as e:
    assert e.code == 1001, e
try:
    calc._caller.call('calc.nope')
    raise AssertionError('an unknown method must fail')
except MethodNotFound as e:
    assert e.code == -32601, e

# Events: the subscription is acknowledged before subscribe() returns, so the next add is seen.
added = calc.events.added
assert added.topic == 'calc/added', added.topic
subscription = added.subscribe(sender='svc.calc')
assert calc.add(a=5, b=6) == 11
event = subscription.get(timeout=10)
assert event.topic == 'calc/added' and event.sender == 'svc.calc', event
assert event.data == {'a': 5, 'b': 6, 'sum': 11}, event
subscription.close()

# The history stream: the most recent adds, oldest first, in any batch size.
calc.add(a=7, b=8)
history = list(calc.history(limit=2))
assert history == [{'a': 5, 'b': 6, 'sum': 11}, {'a': 7, 'b': 8, 'sum': 15}], history
assert list(calc.history(limit=2, batch=1)) == history
cursor = calc.history(limit=3, batch=1)
assert isinstance(cursor, Cursor)
next(cursor)
cursor.close()
try:
    calc._caller.call('NB', {'u': cursor.id, 'n': 1})
    raise AssertionError('a closed cursor must be gone')
except CursorNotFound as e:
    assert e.code == -32001, e

assert elbus_typed.__all__
client.disconnect()
print('OK')
