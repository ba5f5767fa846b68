"""A raw-socket elbus client for the access-control tests (tests/acl_*.rs), standard library
only, so it runs under any uid (`setpriv --reuid=nobody ...`) with the system python3.

    python3 -c "$(cat acl_peer.py)" PATH NAME [STEP ...]

Prints `reg XX` (the registration byte in hex, or `reg eof`), then one line per step:

    msg:TARGET | bcast:MASK | pub:TOPIC | pubfor:TOPIC:RECEIVER   (QoS 1) -> `<step> XX`
    sub:P1,P2,... | unsub:P1,...  (QoS 1) -> `<step> XX,XX,...` every ACK of that frame, up to 01
    pub0:TOPIC                    (QoS 0, no ACK expected)  -> `<step> sent`
    call:METHOD[:NAME]            RPC call to .broker, params {"name": NAME} if given
                                  -> `<step> ok` or `<step> err CODE`
    hold                          -> `held`, then waits for EOF on stdin, or on the socket
                                  (then prints `closed`)

An ACK for an op id other than the current step's is printed as `stray ID XX` (a test that sees
it fails). Exits 0 whatever the broker answered; the test judges the lines.
"""

import select
import socket
import struct
import sys


def connect(path):
    if path.startswith("/") or path.endswith(".sock"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
    else:
        host, port = path.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
    sock.settimeout(10)
    return sock


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def frames(sock):
    """Yields (kind, op_id_or_len, code, body) for every non-NOP frame."""
    while True:
        header = read_exact(sock, 6)
        if header is None:
            return
        kind = header[0]
        if kind == 0x00:
            continue
        if kind == 0xFE:
            yield kind, struct.unpack("<I", header[1:5])[0], header[5], b""
            continue
        body = read_exact(sock, struct.unpack("<I", header[1:5])[0])
        if body is None:
            return
        yield kind, None, None, body


def msgpack_name(name):
    raw = name.encode()
    assert len(raw) < 32
    return b"\x81\xa4name" + bytes([0xA0 | len(raw)]) + raw


def main():
    path, name, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
    sock = connect(path)
    greeting = read_exact(sock, 3)
    sock.sendall(greeting)
    assert read_exact(sock, 1) == b"\x01"
    raw = name.encode()
    sock.sendall(struct.pack("<H", len(raw)) + raw)
    answer = read_exact(sock, 1)
    print("reg eof" if answer is None else "reg %02x" % answer[0], flush=True)
    if answer != b"\x01":
        return
    incoming = frames(sock)
    op_id = 0

    def send(op, qos, body):
        nonlocal op_id
        op_id += 1
        sock.sendall(struct.pack("<IBI", op_id, op | (qos << 6), len(body)) + body)

    def acks(until_ok):
        codes = []
        for kind, ack_id, code, _ in incoming:
            if kind != 0xFE:
                continue
            if ack_id != op_id:
                print("stray %d %02x" % (ack_id, code), flush=True)
                continue
            codes.append("%02x" % code)
            if not until_ok or code == 0x01:
                break
        return ",".join(codes) or "eof"

    for step in steps:
        kind, _, arg = step.partition(":")
        if kind == "msg":
            send(0x12, 1, arg.encode() + b"\x00hi")
            print(step, acks(False), flush=True)
        elif kind == "bcast":
            send(0x13, 1, arg.encode() + b"\x00hi")
            print(step, acks(False), flush=True)
        elif kind == "pub":
            send(0x01, 1, arg.encode() + b"\x00hi")
            print(step, acks(False), flush=True)
        elif kind == "pubfor":
            topic, receiver = arg.split(":", 1)
            send(0x06, 1, topic.encode() + b"\x00" + receiver.encode() + b"\x00hi")
            print(step, acks(False), flush=True)
        elif kind == "pub0":
            send(0x01, 0, arg.encode() + b"\x00hi")
            print(step, "sent", flush=True)
        elif kind in ("sub", "unsub"):
            send(0x02 if kind == "sub" else 0x03, 1, arg.replace(",", "\x00").encode())
            print(step, acks(True), flush=True)
        elif kind == "call":
            method, _, target = arg.partition(":")
            params = msgpack_name(target) if target else b""
            call_id = 7
            payload = b"\x01" + struct.pack("<I", call_id) + method.encode() + b"\x00" + params
            send(0x12, 1, b".broker\x00" + payload)
            if acks(False) != "01":
                print(step, "err ack", flush=True)
                continue
            for fkind, _, _, body in incoming:
                if fkind != 0x12:
                    continue
                sender, _, rpc = body.partition(b"\x00")
                if sender != b".broker" or rpc[1:5] != struct.pack("<I", call_id):
                    continue
                if rpc[0] == 0x11:
                    print(step, "ok", flush=True)
                else:
                    print(step, "err %d" % struct.unpack("<h", rpc[5:7])[0], flush=True)
                break
        elif kind == "hold":
            print("held", flush=True)
            sock.settimeout(None)
            while True:
                ready, _, _ = select.select([sys.stdin, sock], [], [])
                if sys.stdin in ready and not sys.stdin.buffer.read1(4096):
                    return
                if sock in ready and not sock.recv(65536):
                    print("closed", flush=True)
                    return
        else:
            raise SystemExit("unknown step " + step)


main()
