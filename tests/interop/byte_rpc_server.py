"""Serves a few RPC methods with a PyPI client, for a Rust caller to call through a broker.

Usage: byte_rpc_server.py PACKAGE PATH NAME

PACKAGE is `busrt` or `elbus`. Prints "READY" once registered, then serves until it receives the
notification `stop` (or 30 s pass), and exits 0. Methods: `echo` (params back), `add` (msgpack
[a, b] -> a + b), `whoami` (msgpack [sender, method]), `fail` (error -777 "bad thing");
anything else is -32601 "no such method".
"""

import importlib
import sys
import threading

import msgpack

package, path, name = sys.argv[1:4]
client_mod = importlib.import_module(package + '.client')
rpc_mod = importlib.import_module(package + '.rpc')

stop = threading.Event()


def on_call(event):
    method = event.method
    params = event.get_payload()
    if method == b'echo':
        return params
    if method == b'add':
        a, b = msgpack.loads(params)
        return msgpack.dumps(a + b)
    if method == b'whoami':
        return msgpack.dumps([event.frame.sender, method.decode()])
    if method == b'fail':
        raise rpc_mod.RpcException('bad thing', -777)
    raise rpc_mod.RpcException('no such method',
                               rpc_mod.RPC_ERROR_CODE_METHOD_NOT_FOUND)


def on_notification(event):
    if event.get_payload() == b'stop':
        stop.set()


client = client_mod.Client(path, name)
rpc = rpc_mod.Rpc(client)
rpc.on_call = on_call
rpc.on_notification = on_notification
client.connect()
print('READY', flush=True)
stopped = stop.wait(30)
client.disconnect()
sys.exit(0 if stopped else 1)
