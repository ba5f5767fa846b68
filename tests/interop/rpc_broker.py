"""The broker's own RPC endpoint `.broker` seen from the Python RPC clients (protocol.md §8.8, §14.3):
`test` -> {'ok': True} (exactly 81 A2 'ok' C3), an unknown method -> RpcException -32601 with
empty data (`str` ' (code: -32601)'), a call to a missing target -> -32113 ('RPC error (code:
-32113)'), `info` -> author/version strings, `stats` -> the five unsigned counters, `client.list`
-> this run's primaries with the right kind/port/source and instance count (secondaries are not
listed, `.broker` is, sorted by name), `benchmark.test` echoes its params byte for byte.
"""

import msgpack

import harness
from harness import Peer, check


def expect_rpc_error(peer, target, method, code, text):
    try:
        reply = peer.call(target, method)
    except peer.RpcException as e:
        check(e.rpc_error_code == code,
              f'{method!r} on {target!r}: expected code {code}, got {e.rpc_error_code}')
        check(str(e) == text, f'{method!r} on {target!r}: expected str {text!r}, got {str(e)!r}')
        return e
    raise AssertionError(f'{method!r} on {target!r} must fail with {code}, '
                         f'but it returned {reply!r}')


def main():
    args = harness.parse_args(__doc__)
    kind, path = args.client, args.path
    pfx = harness.unique_prefix()
    peer = Peer(kind, path, f'{pfx}.caller').connect().rpc()
    sec = Peer(kind, path, f'{peer.name}%%1').connect()

    reply = peer.call('.broker', 'test')
    check(reply == b'\x81\xa2ok\xc3', f'test: expected 81 A2 6F 6B C3, got {reply.hex(" ")}')
    check(msgpack.unpackb(reply) == {'ok': True}, 'test must return {"ok": True}')

    err = expect_rpc_error(peer, '.broker', 'no.such.method', -32601, ' (code: -32601)')
    check(err.rpc_error_payload in (b'', ''),
          f'unknown method: expected empty error data, got {err.rpc_error_payload!r}')
    expect_rpc_error(peer, f'{pfx}.missing', 'test', -32113, 'RPC error (code: -32113)')

    info = msgpack.unpackb(peer.call('.broker', 'info'))
    check(set(info) == {'author', 'version'}, f'info: unexpected keys {sorted(info)}')
    check(all(isinstance(v, str) and v for v in info.values()), f'info: {info!r}')

    stats = msgpack.unpackb(peer.call('.broker', 'stats'))
    keys = ['uptime', 'r_frames', 'r_bytes', 'w_frames', 'w_bytes']
    # The original's keys come first, in its order; elbusd appends its own counters after them.
    check(list(stats)[:len(keys)] == keys, f'stats: expected keys {keys} first, got {list(stats)}')
    check(all(isinstance(v, int) and v >= 0 for v in stats.values()), f'stats: {stats!r}')

    clients = msgpack.unpackb(peer.call('.broker', 'client.list'))['clients']
    names = [c['name'] for c in clients]
    check(names == sorted(names), f'client.list must be sorted by name: {names}')
    check('.broker' in names, f'client.list must include .broker: {names}')
    broker = clients[names.index('.broker')]
    check(broker['kind'] == 'internal' and broker['port'] is None,
          f'.broker entry: {broker!r}')
    ours = [c for c in clients if c['name'].startswith(pfx)]
    check([c['name'] for c in ours] == [peer.name],
          f'expected only {peer.name!r} of this run (no secondaries), got {ours!r}')
    me = ours[0]
    keys = ['name', 'kind', 'source', 'port', 'r_frames', 'r_bytes', 'w_frames',
            'w_bytes', 'queue', 'instances']
    check(list(me)[:len(keys)] == keys,
          f'client.list entry: expected keys {keys} first, got {list(me)}')
    check(me['instances'] == 2, f'instances: expected 2 (1 + one secondary), got {me!r}')
    check(me['port'] == path, f'port: expected the bind string {path!r}, got {me!r}')
    if path.startswith('/') or path.endswith(('.sock', '.socket', '.ipc')):
        check(me['kind'] == 'local_ipc' and me['source'] is None, f'unix client: {me!r}')
    else:
        check(me['kind'] == 'tcp' and isinstance(me['source'], str)
              and me['source'].startswith('127.0.0.1:'), f'tcp client: {me!r}')

    params = b'\x00\x01any bytes\xff'
    reply = peer.call('.broker', 'benchmark.test', params)
    check(reply == params, f'benchmark.test must echo its params, got {reply!r}')

    sec.disconnect()
    peer.disconnect()
    harness.done('rpc_broker', kind, path)


if __name__ == '__main__':
    main()
