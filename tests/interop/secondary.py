"""Secondary clients `P%%a` (protocol.md §8.1, §8.2, §8.5): they register while P is registered, receive
direct messages and publications by their full name, send with their full name as the sender
(`primary_sender` = P where the package has it), get no reg announcement; when P disconnects
the broker drops them together with P: once P's unreg announcement is seen a message to `P%%a`
gets ACK 0x71, `P%%a` cannot register without P (0x71), and the sync clients see their
connection closed (is_connected() turns False, through their pinger). With P back, `P%%a` registers again.
"""

import time

import harness
from harness import Peer, check, expect_code


def wait_disconnected(peer):
    """Polls the client's public is_connected() (the packages have no disconnect callback)
    until it turns False; fails after harness.WAIT seconds."""
    deadline = time.monotonic() + harness.WAIT
    while peer.is_connected():
        check(time.monotonic() < deadline,
              f'{peer.name}: still connected {harness.WAIT} s after its primary left')
        time.sleep(0.02)


def main():
    args = harness.parse_args(__doc__)
    kind, path = args.client, args.path
    pfx = harness.unique_prefix()
    other = Peer(kind, path, f'{pfx}.other').connect()
    expect_code(other.subscribe(['.broker/info']), 1, 'subscribe .broker/info')

    primary = Peer(kind, path, f'{pfx}.p').connect()
    sec_a = Peer(kind, path, f'{primary.name}%%a').connect()
    sec_b = Peer(kind, path, f'{primary.name}%%b').connect()

    # Announcements are queued before the registration byte, so a fence sent now follows them.
    expect_code(other.message(other.name, b'fence1'), 1, 'fence to self')
    regs = [harness.announcement(f) for f in other.frames_until(other.name, b'fence1', 'fence')]
    regs = [(e['s'], e['d']) for e in regs if e is not None and e['d'].startswith(pfx)]
    check(regs == [('reg', primary.name)],
          f'expected only the reg announcement of {primary.name!r}, got {regs}')

    # Direct messages by full name.
    expect_code(other.message(sec_a.name, b'to-a'), 1, 'message to P%%a')
    frame = sec_a.next_frame('the message to P%%a')
    check((frame.type, frame.sender, frame.payload) == (0x12, other.name, b'to-a'),
          f'P%%a received {frame!r}')

    # Secondaries send under their full name.
    expect_code(sec_b.message(other.name, b'from-b'), 1, 'message from P%%b')
    frame = other.next_frame('the message from P%%b')
    check((frame.sender, frame.payload) == (sec_b.name, b'from-b'),
          f'the message from P%%b arrived as {frame!r}')
    if kind != 'elbus':  # elbus 0.0.15 has no primary_sender
        check(frame.primary_sender == primary.name,
              f'primary_sender: expected {primary.name!r}, got {frame.primary_sender!r}')

    # Publications reach a subscribed secondary (and only it).
    topic = f'{pfx}/sec'
    expect_code(sec_a.subscribe([topic]), 1, 'P%%a subscribe')
    expect_code(other.publish(topic, b'pub'), 1, 'publish')
    frame = sec_a.next_frame('the publication')
    check((frame.type, frame.topic, frame.payload) == (0x01, topic, b'pub'),
          f'P%%a received {frame!r}')
    for peer in (primary, sec_b):
        expect_code(other.message(peer.name, b'fence2'), 1, 'fence')
        extra = peer.frames_until(other.name, b'fence2', 'fence')
        check(extra == [], f'{peer.name} received unexpected frames: {extra!r}')

    # The primary leaves: the broker drops its secondaries with it.
    primary.disconnect()
    harness.wait_unreg(other, primary.name)
    expect_code(other.message(sec_a.name, b'gone?'), 0x71,
                'message to P%%a after P unregistered')
    expect_code(other.message(sec_b.name, b'gone?'), 0x71,
                'message to P%%b after P unregistered')
    err = harness.connect_refused(kind, path, f'{primary.name}%%c')
    check(err == 'Server response: 0x71',
          f'P%%c without P: expected Server response: 0x71, got {err!r}')
    # Client side: the readers spin on EOF (protocol.md §14.1), but the 1 s pinger's next write fails
    # and marks the client disconnected, busrt_async included.
    wait_disconnected(sec_a)
    wait_disconnected(sec_b)

    primary = Peer(kind, path, primary.name).connect()
    sec_a2 = Peer(kind, path, sec_a.name).connect()
    expect_code(other.message(sec_a2.name, b'back'), 1, 'message to the new P%%a')
    frame = sec_a2.next_frame('the message to the new P%%a')
    check(frame.payload == b'back', f'the new P%%a received {frame!r}')

    sec_a2.disconnect()
    primary.disconnect()
    other.disconnect()
    harness.done('secondary', kind, path)


if __name__ == '__main__':
    main()
