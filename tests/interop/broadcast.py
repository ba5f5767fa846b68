"""Broadcast masks (op 0x13, protocol.md §8.2): the §8.2 table observed with the clients P.a, P.b,
P.b%%x and P.b%%y (P = a run-unique chunk) plus a sender S outside P: `?` matches one chunk,
`*` one or more and ends the mask, exact names and secondaries' full names match literally,
`*`/`?` are special only as whole chunks, the sender gets its own broadcast when it matches,
every client gets at most one copy, and every broadcast is ACKed 0x01 even with no recipient.
"""

import harness
from harness import Peer, check, expect_code


def main():
    args = harness.parse_args(__doc__)
    kind, path = args.client, args.path
    p = harness.unique_prefix()
    sender = Peer(kind, path, f'{p}s').connect()
    a = Peer(kind, path, f'{p}.a').connect()
    b = Peer(kind, path, f'{p}.b').connect()
    bx = Peer(kind, path, f'{p}.b%%x').connect()
    by = Peer(kind, path, f'{p}.b%%y').connect()
    peers = [sender, a, b, bx, by]
    four = {a.name, b.name, bx.name, by.name}

    table = [
        (f'{p}.*', four),
        (f'{p}.?', four),  # `b%%x` is one chunk
        ('?.b', {b.name}),
        ('*', four | {sender.name}),  # the sender receives its own broadcast
        (f'{p}.b', {b.name}),  # a broadcast to an exact name
        (f'{p}.b%%x', {bx.name}),
        (f'{p}s', {sender.name}),
        (p, set()),
        (f'{p}.b.*', set()),
        (f'{p}.*.x', four),  # anything after `*` is ignored
        (f'{p}.a*', set()),  # `a*` is literal
        (f'{p}.?.?', set()),
    ]

    failures = []
    for i, (mask, expected) in enumerate(table):
        payload = f'bc{i}'.encode()
        expect_code(sender.broadcast(mask, payload), 1, f'broadcast {mask!r}')
        # Fence: a direct message from the same sender is queued after the broadcast copies.
        fence = f'fence{i}'.encode()
        for peer in peers:
            expect_code(sender.message(peer.name, fence), 1,
                        f'fence to {peer.name}')
        got = []
        for peer in peers:
            for frame in peer.frames_until(sender.name, fence,
                                           f'the fence after {mask!r}'):
                check(frame.type == 0x13 and frame.sender == sender.name
                      and frame.payload == payload,
                      f'{peer.name}: unexpected frame {frame!r} after {mask!r}')
                got.append(peer.name)
        if sorted(got) != sorted(expected):
            failures.append(f'mask {mask!r}: expected {sorted(expected)}, '
                            f'delivered to {sorted(got)}')
    check(not failures, 'broadcast routing differs:\n  ' + '\n  '.join(failures))

    for peer in reversed(peers):
        peer.disconnect()
    harness.done('broadcast', kind, path)


if __name__ == '__main__':
    main()
