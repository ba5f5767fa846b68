"""Golden MessagePack bytes for the typed RPC wire tests (tests/typed_interop_python.rs).

Usage: typed_golden.py

Prints one case a line, every payload as lowercase hex (`-` for an empty payload):

* `client NAME PARAMS`: what `msgpack.dumps` makes of the params dict a typed Rust client must
  send for the call NAME (the Rust test makes the same call and compares the captured bytes);
* `ok NAME METHOD PARAMS RESULT`: params as a Python peer would send them, and the reply payload
  the typed Rust service must answer with;
* `err NAME METHOD PARAMS CODE`: params the service must refuse with the error CODE.
"""

import msgpack


def hx(data):
    return data.hex() if data else '-'


def dumps(value):
    return msgpack.dumps(value)


CLIENT = {
    'add': {'a': 1, 'b': 2},
    'add_wide': {'a': -1, 'b': 300},
    'add_big': {'a': -(2**40), 'b': 2**40},
    'sum': {'xs': [1, 2, 3], 'scale': 2},
    'greet_none': {'who': 'bob', 'greeting': None},
    'greet_some': {'who': 'bøb', 'greeting': 'hi'},
    'clear': {},
    'reset': {'reason': 'manual'},
    'fail_long': {'msg': 'x' * 40},
}

OK = [
    ('map', 'calc.add', dumps({'a': 40, 'b': 2}), dumps(42)),
    ('map_reordered', 'calc.add', dumps({'b': 2, 'a': 40}), dumps(42)),
    ('array', 'calc.add', dumps([40, 2]), dumps(42)),
    ('unknown_keys', 'calc.add', dumps({'a': 1, 'b': 2, 'zzz': [1, 'x']}), dumps(3)),
    ('missing_optional', 'calc.greet', dumps({'who': 'ann'}), dumps('hello, ann')),
    ('missing_optional_array', 'calc.greet', dumps(['ann']), dumps('hello, ann')),
    ('nil_optional', 'calc.greet', dumps({'who': 'ann', 'greeting': None}),
     dumps('hello, ann')),
    ('renamed_param_alias', 'calc.greet', dumps({'name': 'ann', 'greeting': 'yo'}),
     dumps('yo, ann')),
    ('missing_default', 'calc.sum', dumps({'xs': [1, 2]}), dumps(0)),
    ('method_name', 'calc.sum_all', dumps({'xs': [1, 2], 'scale': 3}), dumps(9)),
    ('unit_result', 'calc.clear', b'', b''),
    ('nil_params', 'calc.clear', dumps(None), b''),
    ('second_service', 'echo.echo', dumps({'text': 'ünï'}), dumps('ünï')),
]

ERR = [
    ('app_error', 'calc.fail', dumps({'msg': 'bad'}), 1002),
    ('overflow', 'calc.add', dumps({'a': 2**63 - 1, 'b': 1}), 1001),
    ('missing_required', 'calc.add', dumps({'a': 1}), -32602),
    ('wrong_type', 'calc.add', dumps({'a': 'one', 'b': 2}), -32602),
    ('unknown_method', 'calc.nope', b'', -32601),
]

for name, params in CLIENT.items():
    print('client', name, hx(dumps(params)))
for name, method, params, result in OK:
    print('ok', name, method, hx(params), hx(result))
for name, method, params, code in ERR:
    print('err', name, method, hx(params), code)
