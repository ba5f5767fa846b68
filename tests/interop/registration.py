"""Registration: a valid name is accepted (byte 01) and every refusal reaches the client as the
broker's single result byte (protocol.md §2, §8.1): a `.`-prefixed name -> 0x72, an empty name -> 0x72,
a duplicate primary or secondary -> 0x76, a secondary `X%%1` whose primary is not registered ->
0x71. The connection is still usable after a refused attempt by someone else, and a name is free
again once its owner has disconnected (observed through the `.broker/info` unreg announcement).
"""

import harness
from harness import Peer, check, connect_refused

REFUSED = 'Server response: {:#x}'


def expect_refused(kind, path, name, code):
    err = connect_refused(kind, path, name)
    check(err is not None,
          f'registering {name!r} must be refused with {code:#x}, but it was accepted')
    check(err == REFUSED.format(code),
          f'registering {name!r}: expected {REFUSED.format(code)!r}, got {err!r}')


def main():
    args = harness.parse_args(__doc__)
    kind, path = args.client, args.path
    pfx = harness.unique_prefix()

    observer = Peer(kind, path, f'{pfx}.observer').connect()
    harness.expect_code(observer.subscribe(['.broker/info']), 1,
                        'subscribe .broker/info')

    primary = Peer(kind, path, f'{pfx}.a').connect()
    check(primary.is_connected(), 'a registered client must be connected')

    expect_refused(kind, path, f'.{pfx}', 0x72)
    expect_refused(kind, path, '', 0x72)
    expect_refused(kind, path, f'{pfx}.a', 0x76)
    expect_refused(kind, path, f'{pfx}.nobody%%1', 0x71)

    secondary = Peer(kind, path, f'{pfx}.a%%1').connect()
    expect_refused(kind, path, f'{pfx}.a%%1', 0x76)

    # The registered clients still work after the refusals: a round trip through the broker.
    harness.expect_code(primary.message(secondary.name, b'ping'), 1,
                        'message a -> a%%1')
    frame = secondary.next_frame('the message from a')
    check((frame.sender, frame.payload) == (primary.name, b'ping'),
          f'a%%1 received {frame!r}')

    # Once a client has gone, its name can be registered again.
    secondary.disconnect()
    primary.disconnect()
    harness.wait_unreg(observer, primary.name)
    again = Peer(kind, path, primary.name).connect()
    check(again.is_connected(), 're-registered client must be connected')
    again.disconnect()
    observer.disconnect()
    harness.done('registration', kind, path)


if __name__ == '__main__':
    main()
