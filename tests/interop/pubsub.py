"""Subscribe/publish (ops 0x01-0x03, protocol.md §8.2): every subscription is made with a QoS-1 frame
and waits for its real ACK (0x01); then the §8.2 topic table is checked with one subscriber per
pattern (X = a run-unique chunk): `+` matches one chunk (also empty), `#` one or more and ends
the pattern, so `X/#` does NOT match `X`; a client with several matching subscriptions gets one
copy; the publisher gets its own publication when subscribed; publications are ACKed 0x01 even
with no subscriber; unsubscribe removes exactly that subscription string.
"""

import harness
from harness import Peer, check, expect_code


def main():
    args = harness.parse_args(__doc__)
    kind, path = args.client, args.path
    x = harness.unique_prefix()
    y = x + 'y'
    topics = [x, f'{x}/b', f'{x}/b/c', f'{x}/b/c/d', '', '/', f'{x}/', f'{y}/b/c']
    # pattern -> the indexes of `topics` it must receive (the §8.2 table)
    table = {
        f'{x}/#': {1, 2, 3, 6},
        f'{x}/+': {1, 6},
        f'{x}/+/c': {2},
        '+': {0, 4},
        '#': {0, 1, 2, 3, 4, 5, 6, 7},
        '+/#': {1, 2, 3, 5, 6, 7},
        f'{x}/#/c': {1, 2, 3, 6},  # anything after `#` is ignored
        x: {0},
    }
    publisher = Peer(kind, path, f'{x}.pub').connect()
    expect_code(publisher.publish(f'{y}/nobody', b'none'), 1,
                'publish with no subscriber at all')
    subs = {}
    for i, pattern in enumerate(table):
        peer = Peer(kind, path, f'{x}.sub{i}').connect()
        expect_code(peer.subscribe([pattern]), 1, f'subscribe {pattern!r}')
        subs[pattern] = peer
    # One client, several overlapping subscriptions (sent in one frame, and one again).
    multi = Peer(kind, path, f'{x}.multi').connect()
    expect_code(multi.subscribe([f'{x}/#', f'{x}/+', f'{x}/b']), 1,
                'bulk subscribe')
    expect_code(multi.subscribe([f'{x}/b']), 1, 'repeated subscribe')
    expect_code(publisher.subscribe([f'{x}/+']), 1, 'publisher subscribe')
    everyone = list(subs.values()) + [multi, publisher]

    for i, topic in enumerate(topics):
        expect_code(publisher.publish(topic, f'p{i}'.encode()), 1,
                    f'publish {topic!r}')

    def received(peer, fence):
        """Indexes of `topics` delivered to `peer` before `fence` (announcements skipped)."""
        expect_code(publisher.message(peer.name, fence), 1, f'fence to {peer.name}')
        got = []
        for frame in peer.frames_until(publisher.name, fence, 'the fence'):
            if frame.sender != publisher.name:
                continue  # `#` also gets the `.broker` announcements (and other runs')
            check(frame.type == 0x01,
                  f'{peer.name}: unexpected frame {frame!r}')
            index = int(frame.payload[1:])
            check(frame.topic == topics[index],
                  f'{peer.name}: payload p{index} arrived with topic {frame.topic!r}, '
                  f'published to {topics[index]!r}')
            got.append(index)
        return got

    failures = []
    for pattern, peer in subs.items():
        got = received(peer, b'fence1')
        if got != sorted(table[pattern]):
            failures.append(
                f'subscription {pattern!r}: expected '
                f'{[topics[i] for i in sorted(table[pattern])]}, '
                f'got {[topics[i] for i in got]}')
    got = received(multi, b'fence1')
    if got != [1, 2, 3, 6]:
        failures.append(f'{x}/#, {x}/+, {x}/b on one client: expected one copy each '
                        f'of [1, 2, 3, 6], got {got}')
    got = received(publisher, b'fence1')
    if got != [1, 6]:
        failures.append(f'the publisher subscribed to {x}/+: expected [1, 6], got {got}')
    check(not failures, 'topic routing differs:\n  ' + '\n  '.join(failures))

    # Unsubscribe removes exactly that string: `x/b` stays reachable through `x/#`,
    # then nothing once `x/#` goes too; unsubscribing a pattern never held is ACKed 01.
    expect_code(multi.unsubscribe([f'{x}/b', f'{x}/+']), 1, 'unsubscribe')
    expect_code(publisher.publish(f'{x}/b', b'p1'), 1, 'publish after unsubscribe')
    check(received(multi, b'fence2') == [1], 'x/b must still arrive through x/#')
    expect_code(multi.unsubscribe([f'{x}/#', f'{x}/never']), 1, 'unsubscribe all')
    expect_code(publisher.publish(f'{x}/b', b'p1'), 1, 'publish after unsubscribe all')
    check(received(multi, b'fence3') == [], 'nothing may arrive after unsubscribe all')

    for peer in reversed(everyone):
        peer.disconnect()
    harness.done('pubsub', kind, path)


if __name__ == '__main__':
    main()
