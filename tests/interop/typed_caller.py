"""Calls a typed Rust RPC service (tests/support/typed.rs: `Calc` + `Echo`) with the PyPI `busrt`
sync client, the way a Python peer does: msgpack params in, msgpack results out.

Usage: typed_caller.py PATH NAME TARGET

The Rust test (tests/typed_interop_python.rs) serves TARGET and then checks that the call0 of
`calc.reset` sent last reached the handler with call id 0. Prints "OK" and exits 0 when every
check passes; an assertion failure exits non-zero with the reason on stderr.
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


def call(method, params=None):
    payload = b'' if params is None else msgpack.dumps(params)
    return rpc.call(target, rpc_mod.Request(method, payload)).wait_completed(
        timeout=TIMEOUT)


def result(method, params=None):
    return msgpack.loads(call(method, params).get_payload())


def error(method, params=None):
    try:
        call(method, params)
    except rpc_mod.RpcException as e:
        return e
    raise AssertionError(f'{method} did not fail')


# Results: params as a map (any key order, unknown keys ignored) or an array.
assert result('calc.add', {'a': 40, 'b': 2}) == 42
assert result('calc.add', {'b': 2, 'a': 40, 'comment': 'ignored'}) == 42
assert result('calc.add', [40, 2]) == 42
assert result('calc.sum_all', {'xs': [1, 2, 3], 'scale': 2}) == 12
# The method alias, and a missing `#[rpc(default)]` param.
assert result('calc.sum', {'xs': [1, 2, 3]}) == 0
# A missing optional param, and the renamed param's old name.
assert result('calc.greet', {'who': 'ann'}) == 'hello, ann'
assert result('calc.greet', {'name': 'ann', 'greeting': 'yo'}) == 'yo, ann'
assert result('calc.whoami') == [name, name]
assert result('echo.echo', {'text': 'ünï'}) == 'ünï'
# `()` is an empty reply.
reply = call('calc.clear')
assert reply.is_empty() and reply.get_payload() == b'', reply.get_payload()

# The service's typed errors: code plus UTF-8 message.
e = error('calc.fail', {'msg': 'bad digit: ½'})
assert e.rpc_error_code == 1002, e.rpc_error_code
assert e.rpc_error_payload.decode() == 'bad digit: ½', e.rpc_error_payload
assert str(e) == 'bad digit: ½ (code: 1002)', str(e)
e = error('calc.add', {'a': 2**63 - 1, 'b': 1})
assert e.rpc_error_code == 1001, e.rpc_error_code
assert str(e) == 'The result does not fit in an i64. (code: 1001)', str(e)
# Protocol errors.
e = error('calc.nope')
assert e.rpc_error_code == rpc_mod.RPC_ERROR_CODE_METHOD_NOT_FOUND, e.rpc_error_code
e = error('calc.add', {'a': 1})
assert e.rpc_error_code == rpc_mod.RPC_ERROR_CODE_INVALID_METHOD_PARAMS, e.rpc_error_code
assert 'missing field `b`' in str(e), str(e)

# The one-way method, as a call with id 0.
code = rpc.call0(target, rpc_mod.Request(
    'calc.reset', msgpack.dumps({'reason': 'from python'}))).wait_completed(timeout=TIMEOUT)
assert code == client_mod.RESPONSE_OK, code

client.disconnect()
print('OK', flush=True)
