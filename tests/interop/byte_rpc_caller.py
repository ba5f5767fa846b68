"""Calls a Rust RPC service through an elbus broker with a PyPI client, checking each answer.

Usage: byte_rpc_caller.py PACKAGE PATH NAME TARGET

PACKAGE is `busrt` or `elbus` (the sync packages share one API, protocol.md §14.2). The Rust
test (tests/rpc_interop.rs) serves TARGET with its test service and then checks that the
notification and the call0 sent here reached it. Prints "OK" and exits 0 when every check passes;
an assertion failure exits non-zero with the reason on stderr.
"""

import importlib
import sys

import msgpack

package, path, name, target = sys.argv[1:5]
client_mod = importlib.import_module(package + '.client')
rpc_mod = importlib.import_module(package + '.rpc')

TIMEOUT = 10

client = client_mod.Client(path, name)
rpc = rpc_mod.Rpc(client)
client.connect()


def call(method, params=b'', to=target):
    return rpc.call(to, rpc_mod.Request(method, params)).wait_completed(
        timeout=TIMEOUT)


def call_error(method, params=b'', to=target):
    try:
        call(method, params, to)
    except rpc_mod.RpcException as e:
        return e
    raise AssertionError(f'{method} did not fail')


reply = call('echo', msgpack.dumps({'a': 1, 'b': 'text'}))
assert msgpack.loads(reply.get_payload()) == {'a': 1, 'b': 'text'}, reply.get_payload()

reply = call('add', msgpack.dumps([2, 40]))
assert msgpack.loads(reply.get_payload()) == 42, reply.get_payload()

reply = call('whoami')
assert msgpack.loads(reply.get_payload()) == [name, name], reply.get_payload()

reply = call('empty')
assert reply.is_empty() and reply.get_payload() == b'', reply.get_payload()

e = call_error('fail')
assert e.rpc_error_code == -777, e.rpc_error_code
assert str(e) == 'boom (code: -777)', str(e)

e = call_error('add', b'\xc1')
assert e.rpc_error_code == -32602, e.rpc_error_code

e = call_error('no.such.method')
assert e.rpc_error_code == -32601, e.rpc_error_code
assert str(e) == ' (code: -32601)', str(e)

e = call_error('echo', to='no.such.target')
assert e.rpc_error_code == -32113, e.rpc_error_code

code = rpc.notify(target, rpc_mod.Notification(b'note from python')).wait_completed(
    timeout=TIMEOUT)
assert code == client_mod.RESPONSE_OK, code

code = rpc.call0(target, rpc_mod.Request('echo', b'call0 from python')).wait_completed(
    timeout=TIMEOUT)
assert code == client_mod.RESPONSE_OK, code

client.disconnect()
print('OK', flush=True)
