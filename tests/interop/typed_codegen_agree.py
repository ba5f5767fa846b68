"""The modules `elbus rpc codegen --python` generated for the `calc` and `sensors` examples
agree with the dynamic `elbus_typed.Proxy` on every method, against the live services.

Usage: typed_codegen_agree.py MODULE_DIR PATH

Run by tests/typed_python_clients.rs, which writes `calc_client.py` and `sensors_client.py` into
MODULE_DIR and serves both examples. Prints "OK" when every check passes.
"""

import sys
import warnings

from busrt.client import Client

sys.path.insert(0, sys.argv[1])
import calc_client  # noqa: E402
import sensors_client  # noqa: E402

from elbus_typed import Proxy  # noqa: E402

client = Client(sys.argv[2], 'py.typed.codegen')
client.connect()
warnings.simplefilter('error')  # a schema-hash drift warning fails the run

calc_proxy = Proxy(client, 'svc.calc', timeout=10)
calc = calc_client.CalcClient(client, rpc=calc_proxy._caller.rpc, timeout=10)
sensors_proxy = Proxy(client, 'svc.sensors', rpc=calc_proxy._caller.rpc, timeout=10)
sensors = sensors_client.SensorsClient(client, rpc=calc_proxy._caller.rpc, timeout=10)


def same(what, generated, dynamic):
    assert generated == dynamic, f'{what}: generated {generated!r} != proxy {dynamic!r}'
    return generated


def same_error(what, generated_call, dynamic_call, generated_class, dynamic_class):
    codes = []
    for call, cls in ((generated_call, generated_class), (dynamic_call, dynamic_class)):
        try:
            call()
            raise AssertionError(f'{what} must fail')
        except cls as e:
            codes.append((e.code, e.message))
    same(what, codes[0], codes[1])


# calc: every method.
assert same('add', calc.add(a=40, b=2), calc_proxy.add(a=40, b=2)) == 42
same('div', calc.div(a=7, b=2), calc_proxy.div(a=7, b=2))
same_error('div by 0', lambda: calc.div(a=1, b=0), lambda: calc_proxy.div(a=1, b=0),
           calc_client.DivisionByZero, calc_proxy.errors.DivisionByZero)
same_error('overflow', lambda: calc.add(a=2**62, b=2**62),
           lambda: calc_proxy.add(a=2**62, b=2**62), calc_client.Overflow,
           calc_proxy.errors.Overflow)
same('sum', calc.sum(xs=[1, 2, 3]), calc_proxy.sum(xs=[1, 2, 3]))
same('sum scaled', calc.sum(xs=[1, 2], scale=10), calc_proxy.sum(xs=[1, 2], scale=10))
same('hello', calc.hello(name='x'), calc_proxy.hello(name='x'))
same('hello caller', calc.hello(), calc_proxy.hello())
same('reset', calc.reset(), calc_proxy.reset())
same('history', list(calc.history(limit=3)), list(calc_proxy.history(limit=3)))
same('history by one', list(calc.history(limit=3, batch=1)),
     list(calc_proxy.history(limit=3, batch=1)))
watch_generated = calc.watch(batch=1)
watch_dynamic = calc_proxy.watch(batch=1)
calc.add(a=3, b=4)
same('watch', next(watch_generated), next(watch_dynamic))
watch_generated.close()
watch_dynamic.close()
same('event topic', calc_client.TOPIC_ADDED, calc_proxy.events.added.topic)
same('event decode', calc_client.decode_added(b'\x83\xa1a\x01\xa1b\x02\xa3sum\x03'),
     {'a': 1, 'b': 2, 'sum': 3})

# sensors: every method.
same('list', sensors.list(), sensors_proxy.list())
same('read', sensors.read(id='t1'), sensors_proxy.read(id='t1'))
same_error('read unknown', lambda: sensors.read(id='x9'), lambda: sensors_proxy.read(id='x9'),
           sensors_client.UnknownSensor, sensors_proxy.errors.UnknownSensor)
same('history', sensors.history(id='t1'), sensors_proxy.history(id='t1'))
same('history limited', sensors.history(id='t1', limit=1), sensors_proxy.history(id='t1', limit=1))
first = sensors.sample(id='t1', settle_ms=0)
second = sensors_proxy.sample(id='t1', settle_ms=0)
# Each sample is a new measurement (its value follows the station's counter): same shape.
same('sample', {k: first[k] for k in ('sensor', 'kind')}, {k: second[k] for k in ('sensor', 'kind')})
same('sample keys', sorted(first), sorted(second))
assert second['seq'] == first['seq'] + 1, (first, second)
same('calibrate', sensors.calibrate(id='t1', table=b'\x01\x02\x03'),
     sensors_proxy.calibrate(id='t1', table=b'\x01\x02\x03'))

# The schema hash: a module generated from another schema warns on its first call, once.
calc_client.SCHEMA_HASH = '0000000000000000'
stale = calc_client.CalcClient(client, rpc=calc_proxy._caller.rpc, timeout=10)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    assert stale.add(a=1, b=1) == 2
    assert stale.add(a=1, b=1) == 2
drift = [w for w in caught if issubclass(w.category, RuntimeWarning)]
assert len(drift) == 1 and 'regenerate' in str(drift[0].message), [str(w.message) for w in caught]

client.disconnect()
print('OK')
