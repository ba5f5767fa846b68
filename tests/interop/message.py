"""One-to-one messages (op 0x12) and their ACK codes (protocol.md §3.3, §4.3, §8.2, §8.3): QoS 1 and
QoS 3 are acknowledged with 0x01 once routed, and the target receives `sender NUL payload` intact
(empty, binary with NULs, 256 KiB); QoS 0 is delivered without an ACK; a missing target gets ACK
0x71 (not 0x77) and a QoS-0 frame to it is dropped silently, the connection staying usable; a
client may message itself and (sync clients, in-order reader) sees the frame before the ACK.
"""

import harness
from harness import Peer, check, expect_code


def expect_message(peer, sender, payload, what):
    frame = peer.next_frame(what)
    check(frame.type == 0x12, f'{what}: expected a message frame, got {frame!r}')
    check(frame.sender == sender,
          f'{what}: expected sender {sender!r}, got {frame.sender!r}')
    check(frame.payload == payload,
          f'{what}: payload differs: {len(frame.payload)} bytes received, '
          f'{len(payload)} sent (first bytes {frame.payload[:32]!r})')
    return frame


def main():
    args = harness.parse_args(__doc__)
    kind, path = args.client, args.path
    pfx = harness.unique_prefix()
    a = Peer(kind, path, f'{pfx}.a').connect()
    b = Peer(kind, path, f'{pfx}.b').connect()

    expect_code(a.message(b.name, b'hello', qos=1), 1, 'QoS 1 message a -> b')
    expect_message(b, a.name, b'hello', 'QoS 1 message')

    expect_code(a.message(b.name, b'rt', qos=3), 1, 'QoS 3 message a -> b')
    expect_message(b, a.name, b'rt', 'QoS 3 message')

    a.message(b.name, b'no-ack', qos=0)
    expect_message(b, a.name, b'no-ack', 'QoS 0 message')

    for payload, what in ((b'', 'empty payload'),
                          (b'\x00a\x00\x00b\x00', 'payload with NULs'),
                          (bytes(range(256)) * 1024, '256 KiB payload')):
        expect_code(a.message(b.name, payload), 1, f'message with {what}')
        expect_message(b, a.name, payload, what)

    missing = f'{pfx}.missing'
    expect_code(a.message(missing, b'x', qos=1), 0x71,
                'QoS 1 message to a missing target')
    expect_code(a.message(missing, b'x', qos=3), 0x71,
                'QoS 3 message to a missing target')
    a.message(missing, b'x', qos=0)
    expect_code(a.message(b.name, b'after', qos=1), 1,
                'message after the QoS-0 frame to a missing target')
    expect_message(b, a.name, b'after', 'message after a dropped frame')

    # A client may send to itself; the routed copy is queued before the ACK (§4.2).
    expect_code(a.message(a.name, b'self'), 1, 'message to self')
    if kind in harness.SYNC_CLIENTS:
        check(not a.inbox.empty(),
              'the frame sent to self must arrive before its ACK (one queue per client)')
    expect_message(a, a.name, b'self', 'message to self')

    # Nothing else was delivered to either side.
    expect_code(a.message(b.name, b'fence'), 1, 'fence')
    check(b.frames_until(a.name, b'fence', 'the fence') == [],
          'b received unexpected extra frames')
    check(a.inbox.empty(), f'a received unexpected frames: {a.inbox.queue!r}')

    a.disconnect()
    b.disconnect()
    harness.done('message', kind, path)


if __name__ == '__main__':
    main()
