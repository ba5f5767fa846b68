"""Python <-> Python RPC through the broker (protocol.md §9, §14.2, §14.3): a call's params and reply
round-trip byte for byte (binary, empty, 64 KiB); a handler's RpcException with a custom code
and message reaches the caller as that code and message; a plain exception becomes -32603 with
its text; the default handler's -32601 survives; a notification and a call with call id 0 reach
the handler, are ACKed 0x01 and get no reply; a server that is a secondary (`S%%rpc`) works too.
"""

import queue

import harness
from harness import Peer, check, expect_code


def main():
    args = harness.parse_args(__doc__)
    kind, path = args.client, args.path
    pfx = harness.unique_prefix()
    calls = queue.Queue()

    server = Peer(kind, path, f'{pfx}.server')
    exc = server.RpcException

    def handler(method, params):
        calls.put((method, bytes(params)))
        if method == b'echo':
            return params
        if method == b'none':
            return None
        if method == b'custom':
            raise exc('custom failure', -32099)
        if method == b'crash':
            raise ValueError('plain failure')
        raise exc('', -32601)

    server.connect().rpc(handler)
    server2 = Peer(kind, path, f'{server.name}%%rpc').connect().rpc(handler)
    bare = Peer(kind, path, f'{pfx}.bare').connect().rpc()  # the default on_call
    caller = Peer(kind, path, f'{pfx}.caller').connect().rpc()

    for target in (server.name, server2.name):
        for params in (b'\x00\x01\x02params\x00', b'', bytes(range(256)) * 256):
            reply = caller.call(target, 'echo', params)
            check(reply == params, f'echo via {target}: {len(params)} bytes sent, '
                                   f'{len(reply)} back, first {reply[:16]!r}')
            got = calls.get(timeout=harness.WAIT)
            check(got == (b'echo', params), f'the handler saw {got[0]!r}, {len(got[1])} bytes')
    check(caller.call(server.name, 'none') == b'', 'a None result must be an empty reply')
    calls.get(timeout=harness.WAIT)

    def expect_error(target, method, code, message):
        try:
            reply = caller.call(target, method)
        except caller.RpcException as e:
            check(e.rpc_error_code == code,
                  f'{method}: expected code {code}, got {e.rpc_error_code} ({e})')
            data = e.rpc_error_payload
            data = data.encode() if isinstance(data, str) else bytes(data)
            check(data == message,
                  f'{method}: expected message {message!r}, got {e.rpc_error_payload!r}')
            return
        raise AssertionError(f'{method} must fail with {code}, got {reply!r}')

    expect_error(server.name, 'custom', -32099, b'custom failure')
    expect_error(server.name, 'crash', -32603, b'plain failure')
    expect_error(server.name, 'unknown', -32601, b'')
    expect_error(bare.name, 'anything', -32601, b'RPC Engine not initialized')
    expect_error(f'{pfx}.missing', 'echo', -32113, b'RPC error')  # made locally from ACK 71
    for _ in range(3):
        calls.get(timeout=harness.WAIT)

    expect_code(caller.notify(server.name, b'note'), 1, 'notification')
    note = server.next_frame('the notification')
    check(note == ('notification', caller.name, b'note'), f'notification arrived as {note!r}')

    expect_code(caller.call0(server.name, 'echo', b'fire'), 1, 'call with id 0')
    got = calls.get(timeout=harness.WAIT)
    check(got == (b'echo', b'fire'), f'call0: the handler saw {got!r}')
    # No reply to a call id 0: a later call still gets its own reply, and nothing else arrived.
    check(caller.call(server.name, 'echo', b'last') == b'last', 'call after call0')
    calls.get(timeout=harness.WAIT)
    check(caller.inbox.empty(), f'the caller got unexpected frames: {caller.inbox.queue!r}')

    for peer in (caller, bare, server2, server):
        peer.disconnect()
    harness.done('rpc_peer', kind, path)


if __name__ == '__main__':
    main()
