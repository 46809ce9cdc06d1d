#!/usr/bin/python3
"""transport_client: an independent client of the gateway's transports for test_transport.c.

Speaks TLS with Python's ssl module, WebSocket with websocket-client (Debian's
python3-websocket) and, for hostile input, raw sockets with hand-made WebSocket frames and HTTP
requests. Protobuf messages are encoded and decoded with the few lines below (varints and
length-delimited fields: all these messages need). Each scenario asserts what the client sees
and exits 0 when it passed, 1 with the reason otherwise.

usage: transport_client.py --tcp P --tls P --ws P --wss P [--admin P] [--max-frame N] SCENARIO
"""
import argparse
import base64
import os
import socket
import ssl
import struct
import subprocess
import sys
import time

import websocket

T_ERROR, T_PING, T_PONG, T_ECHO, T_ECHO_RESP = 1, 2, 3, 4, 5
T_REGISTER, T_REGISTER_RESP, T_LOGIN, T_LOGIN_RESP, T_RESUME, T_RESUME_RESP = 100, 101, 102, 103, 104, 105
T_CREATE_ROOM, T_CREATE_ROOM_RESP, T_ROOM_LIST, T_ROOM_LIST_RESP = 110, 111, 112, 113
LOBBY, GAME = 1, 2

A = None  # the parsed arguments


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


# ---- protobuf, the minimum ----

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f_int(num, v):
    return varint(num << 3) + varint(v)


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def read_varint(b, i):
    """The varint at b[i:]: (value, index past it)."""
    v, shift = 0, 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7F) << shift; shift += 7
        if not c & 0x80:
            return v, i


def decode(b):
    """field number -> list of values (ints, or bytes for length-delimited fields)."""
    out, i = {}, 0
    while i < len(b):
        key, i = read_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 2:
            n, i = read_varint(b, i)
            v = b[i:i + n]; i += n
        elif wt == 1:
            v = b[i:i + 8]; i += 8
        elif wt == 5:
            v = b[i:i + 4]; i += 4
        else:
            raise Fail("bad wire type")
        out.setdefault(num, []).append(v)
    return out


def frame(t, seq, payload=b""):
    return struct.pack(">IHI", len(payload), t, seq) + payload


def unframe(b):
    check(len(b) >= 10, "short frame")
    n, t, seq = struct.unpack(">IHI", b[:10])
    check(len(b) == 10 + n, "a message must hold exactly one frame")
    return t, seq, b[10:]


# ---- clients ----

def tls_ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Stream:
    """Frames over TCP or TLS."""

    def __init__(self, port, tls=False, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s = tls_ctx().wrap_socket(s, server_hostname="localhost") if tls else s
        self.buf = b""
        self.seq = 0

    def _read(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            check(d, "connection closed while waiting for a frame")
            self.buf += d
        r, self.buf = self.buf[:n], self.buf[n:]
        return r

    def send(self, t, payload=b""):
        self.seq += 1
        self.s.sendall(frame(t, self.seq, payload))
        return self.seq

    def recv(self):
        h = self._read(10)
        n, t, seq = struct.unpack(">IHI", h)
        return t, seq, self._read(n)

    def close(self):
        self.s.close()


class Ws:
    """Frames over ws:// or wss:// with websocket-client."""

    def __init__(self, port, tls=False, timeout=5.0, **kw):
        url = ("wss" if tls else "ws") + "://127.0.0.1:%d/" % port
        opt = {"sslopt": {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}} if tls else {}
        kw.setdefault("origin", "https://game.example")  # one of the test gateway's WS_ALLOWED_ORIGINS
        self.w = websocket.create_connection(url, timeout=timeout, **opt, **kw)
        self.seq = 0

    def send(self, t, payload=b""):
        self.seq += 1
        self.w.send_binary(frame(t, self.seq, payload))
        return self.seq

    def recv(self):
        op, data = self.w.recv_data()
        check(op == websocket.ABNF.OPCODE_BINARY, "expected a binary message, got opcode %d" % op)
        return unframe(data)

    def close(self):
        self.w.close()


def connect(kind, **kw):
    if kind == "tcp":
        return Stream(A.tcp, **kw)
    if kind == "tls":
        return Stream(A.tls, tls=True, **kw)
    if kind == "ws":
        return Ws(A.ws, **kw)
    return Ws(A.wss, tls=True, **kw)


def call(c, t, payload=b"", want=None):
    seq = c.send(t, payload)
    while True:
        rt, rseq, body = c.recv()
        if rseq == seq:
            break  # pushes (seq 0) are skipped
    if want is not None and rt != want:
        msg = decode(body).get(2, [b""])[0] if rt == T_ERROR else b""
        raise Fail("type %d answered %d, not %d %s" % (t, rt, want, msg))
    return rt, decode(body)


# ---- raw WebSocket, for hostile input ----

def raw_connect(port, tls=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return tls_ctx().wrap_socket(s, server_hostname="localhost") if tls else s


def upgrade_request(key=None, version="13", origin=None, extra=""):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    if key != "":
        req += "Sec-WebSocket-Key: %s\r\n" % key
    if version is not None:
        req += "Sec-WebSocket-Version: %s\r\n" % version
    if origin:
        req += "Origin: %s\r\n" % origin
    return (req + extra + "\r\n").encode()


def read_all(s, limit=5.0):
    """Everything until EOF; fails if the server keeps the connection open past limit."""
    s.settimeout(limit)
    out = b""
    t0 = time.time()
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            raise Fail("the server did not close within %.1f s (got %r)" % (limit, out[:80]))
        except (ConnectionResetError, ssl.SSLError):
            return out
        if not d:
            return out
        out += d
        check(time.time() - t0 < limit, "connection still open after %.1f s" % limit)


def http_status(resp):
    line = resp.split(b"\r\n", 1)[0]
    check(line.startswith(b"HTTP/1.1 "), "not an HTTP response: %r" % resp[:60])
    return int(line.split()[1])


def ws_open(port=None, tls=False):
    s = raw_connect(port or (A.wss if tls else A.ws), tls)
    s.sendall(upgrade_request())
    resp = b""
    while b"\r\n\r\n" not in resp:
        d = s.recv(4096)
        check(d, "closed during the upgrade")
        resp += d
    check(http_status(resp) == 101, "upgrade refused: %r" % resp[:80])
    return s, resp.split(b"\r\n\r\n", 1)[1]


def ws_frame(opcode, payload, fin=True, mask=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        h = struct.pack(">BB", b0, mbit | n)
    elif n < 65536:
        h = struct.pack(">BBH", b0, mbit | 126, n)
    else:
        h = struct.pack(">BBQ", b0, mbit | 127, n)
    if not mask:
        return h + payload
    key = os.urandom(4)
    return h + key + bytes(c ^ key[i & 3] for i, c in enumerate(payload))


def ws_frames(data):
    """Parses server frames: list of (opcode, payload)."""
    out, i = [], 0
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        check(not data[i + 1] & 0x80, "server frames must not be masked")
        i += 2
        if n == 126:
            n = struct.unpack(">H", data[i:i + 2])[0]; i += 2
        elif n == 127:
            n = struct.unpack(">Q", data[i:i + 8])[0]; i += 8
        out.append((op, data[i:i + n])); i += n
    return out


def expect_close(s, code, pre=b"", limit=5.0):
    frames = ws_frames(pre + read_all(s, limit))
    closes = [p for op, p in frames if op == 8]
    check(closes, "no close frame (got opcodes %s)" % [op for op, _ in frames])
    got = struct.unpack(">H", closes[0][:2])[0] if len(closes[0]) >= 2 else None
    check(got == code, "close code %s, expected %s" % (got, code))
    return frames


# ---- scenarios: bad input ----

def bad_http_get():
    s = raw_connect(A.ws)
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    st = http_status(read_all(s))
    check(st == 400, "plain GET answered %d, not 400" % st)


def bad_oversized():
    s = raw_connect(A.ws)
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 20000 + b"\r\n\r\n")
    st = http_status(read_all(s))
    check(st == 431, "an oversized upgrade request answered %d, not 431" % st)


def bad_slow():
    s = raw_connect(A.ws)
    t0 = time.time()
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
    out = read_all(s, 6)
    dt = time.time() - t0
    check(b"101" not in out, "a partial request got an upgrade")
    check(0.7 <= dt <= 3.5, "slow handshake closed after %.2f s (WS_HANDSHAKE_MS is 1 s)" % dt)


def bad_key():
    for key in ("", "short", "!!!!!!!!!!!!!!!!!!!!!!!!", base64.b64encode(b"x" * 15).decode() + "AA"):
        s = raw_connect(A.ws)
        s.sendall(upgrade_request(key=key))
        st = http_status(read_all(s))
        check(st == 400, "Sec-WebSocket-Key %r answered %d, not 400" % (key, st))


def bad_version():
    s = raw_connect(A.ws)
    s.sendall(upgrade_request(version="8"))
    resp = read_all(s)
    check(http_status(resp) == 426, "version 8 answered %d, not 426" % http_status(resp))
    check(b"Sec-WebSocket-Version: 13" in resp, "426 without Sec-WebSocket-Version: 13")


def bad_origin():
    s = raw_connect(A.ws)
    s.sendall(upgrade_request(origin="https://evil.example"))
    st = http_status(read_all(s))
    check(st == 403, "a foreign Origin answered %d, not 403" % st)
    w = Ws(A.ws, origin="https://game.example")  # the allowed one
    call(w, T_PING, f_int(1, 5), T_PONG)
    w.close()


def bad_unmasked():
    s, pre = ws_open()
    s.sendall(ws_frame(2, frame(T_PING, 1, f_int(1, 1)), mask=False))
    expect_close(s, 1002, pre)


def bad_text():
    s, pre = ws_open()
    s.sendall(ws_frame(1, b"hello"))
    expect_close(s, 1003, pre)


def bad_fragmented():
    # within the cap: assembled and answered
    s, pre = ws_open()
    f = frame(T_PING, 9, f_int(1, 77))
    s.sendall(ws_frame(2, f[:4], fin=False) + ws_frame(0, f[4:9], fin=False) + ws_frame(0, f[9:]))
    s.settimeout(5)
    got = pre
    while True:
        fr = ws_frames(got)
        if fr and len(fr[0][1]) >= 10 and len(fr[0][1]) == 10 + struct.unpack(">I", fr[0][1][:4])[0]:
            break
        d = s.recv(4096)
        check(d, "closed instead of answering a fragmented PING")
        got += d
    op, payload = ws_frames(got)[0]
    t, seq, body = unframe(payload)
    check(op == 2 and t == T_PONG and seq == 9 and decode(body)[1] == [77], "fragmented PING misanswered")
    # the first fragment after a quiet second, the rest later (the gateway must keep what
    # wslay holds; the whole stays within the 2 s idle timeout: only whole frames count)
    time.sleep(1.05)
    f = frame(T_PING, 10, f_int(1, 78))
    s.sendall(ws_frame(2, f[:6], fin=False))
    time.sleep(0.6)
    s.sendall(ws_frame(9, b"in between") + ws_frame(0, f[6:]))
    got = b""
    while True:
        fr = [x for x in ws_frames(got) if x[0] == 2]
        if fr and len(fr[0][1]) >= 10 and len(fr[0][1]) == 10 + struct.unpack(">I", fr[0][1][:4])[0] \
                and 10 in [op for op, _ in ws_frames(got)]:
            break
        d = s.recv(4096)
        check(d, "closed instead of answering a fragmented PING sent over 0.6 s")
        got += d
    t, seq, body = unframe(fr[0][1])
    check(t == T_PONG and seq == 10 and decode(body)[1] == [78], "slow fragmented PING misanswered")
    s.close()
    # past the cap: refused with 1009
    s, pre = ws_open()
    chunk = b"x" * 1024
    msg = b""
    for _ in range((A.max_frame + 10) // len(chunk) + 2):
        msg += ws_frame(2 if not msg else 0, chunk, fin=False)
    s.sendall(msg)
    expect_close(s, 1009, pre)


def bad_control_big():
    s, pre = ws_open()
    s.sendall(ws_frame(9, b"p" * 126))
    expect_close(s, 1002, pre)


def bad_ping_flood():
    s, pre = ws_open()
    s.sendall(b"".join(ws_frame(9, b"x") for _ in range(300)))
    frames = expect_close(s, 1008, pre)
    pongs = sum(1 for op, _ in frames if op == 10)
    check(pongs <= A.rate_burst + 10, "%d pongs for 300 pings (burst %d)" % (pongs, A.rate_burst))
    check(pongs >= A.rate_burst // 2, "only %d pongs: the burst should be answered" % pongs)


def bad_close_no_status():
    s, pre = ws_open()
    s.sendall(ws_frame(8, b""))
    frames = ws_frames(pre + read_all(s))
    check(any(op == 8 for op, _ in frames), "no close frame in answer to a close without status")


def bad_too_long():
    s, pre = ws_open()
    body = b"z" * (A.max_frame + 1)
    s.sendall(ws_frame(2, frame(T_ECHO, 1, body)))
    expect_close(s, 1009, pre)


def bad_two_frames():
    s, pre = ws_open()
    f = frame(T_PING, 1, f_int(1, 1))
    s.sendall(ws_frame(2, f + f))
    expect_close(s, 1002, pre)


def bad_plaintext_tls():
    for data in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", frame(T_PING, 1, f_int(1, 1))):
        s = raw_connect(A.tls)
        s.sendall(data)
        out = read_all(s)
        check(not out or out[0] == 0x15, "plaintext on the TLS port got %r (an alert or nothing expected)" % out[:20])
    s = raw_connect(A.wss)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    out = read_all(s)
    check(b"HTTP" not in out, "plaintext HTTP on the wss port was answered in clear")


def bad_garbage_hello():
    s = raw_connect(A.tls)
    s.sendall(b"\x16\x03\x01\x00\x40" + os.urandom(64))
    out = read_all(s)
    check(not out or out[0] == 0x15, "a garbage ClientHello got %r" % out[:20])


def bad_old_tls():
    for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        c.set_ciphers("DEFAULT:@SECLEVEL=0")
        c.minimum_version = v
        c.maximum_version = v
        s = socket.create_connection(("127.0.0.1", A.tls), timeout=5)
        try:
            t = c.wrap_socket(s, server_hostname="localhost")
            raise Fail("%s was accepted (%s)" % (v.name, t.version()))
        except ssl.SSLError as e:
            check("VERSION" in str(e).upper(), "%s refused for another reason: %s" % (v.name, e))
        finally:
            s.close()


def bad_silent(kind):
    c = connect(kind)  # the handshake completes
    s = c.s if isinstance(c, Stream) else c.w.sock
    t0 = time.time()
    read_all(s, 8)
    dt = time.time() - t0
    check(A.idle_ms / 1000 * 0.7 <= dt <= A.idle_ms / 1000 + 2.0,
          "%s: a silent client was closed after %.2f s (IDLE_TIMEOUT_MS %d)" % (kind, dt, A.idle_ms))


def bad_tls_silent_handshake():
    s = socket.create_connection(("127.0.0.1", A.tls), timeout=5)
    t0 = time.time()
    read_all(s, 6)
    dt = time.time() - t0
    check(0.7 <= dt <= 1.9, "a TCP connect without ClientHello closed after %.2f s (TLS_HANDSHAKE_MS 1 s)" % dt)


def session_limits():
    """The session's own rules on other transports: the rate limit over ws (RATE_LIMITED, then
    closed with 1008 after RATE_KICK_AFTER refusals) and a frame over MAX_FRAME over TLS
    (FRAME_TOO_LARGE, then closed)."""
    s, pre = ws_open()
    s.sendall(b"".join(ws_frame(2, frame(T_PING, i + 1, f_int(1, i))) for i in range(150)))
    frames = expect_close(s, 1008, pre)
    errs = [decode(unframe(p)[2]) for op, p in frames if op == 2 and unframe(p)[0] == T_ERROR]
    check(errs and all(e[1] == [5] for e in errs), "no RATE_LIMITED before the close (%d errors)" % len(errs))
    t = Stream(A.tls, tls=True)
    t.s.sendall(struct.pack(">IHI", A.max_frame + 1, T_ECHO, 77))
    rt, seq, body = t.recv()
    check(rt == T_ERROR and seq == 77 and decode(body)[1] == [3], "over MAX_FRAME on TLS: %d %r" % (rt, decode(body)))
    try:
        check(t.s.recv(100) == b"", "still open after FRAME_TOO_LARGE")
    except (ConnectionResetError, ssl.SSLError):
        pass
    print("ws: %d RATE_LIMITED, then 1008; tls: FRAME_TOO_LARGE, then closed" % len(errs))


# ---- scenarios: flows ----

def flow_ping_echo():
    for kind in ("tcp", "tls", "ws", "wss"):
        c = connect(kind)
        _, m = call(c, T_PING, f_int(1, 4242), T_PONG)
        check(m[1] == [4242], "%s: PING answered with another client_time" % kind)
        for target, name in ((LOBBY, "lobby"), (GAME, "game")):
            payload = os.urandom(3000)
            _, m = call(c, T_ECHO, f_int(1, target) + f_bytes(2, payload), T_ECHO_RESP)
            check(m[1] == [payload], "%s: ECHO %s payload differs" % (kind, name))
            check(m.get(3, [0]) == [target], "%s: ECHO %s served by %s" % (kind, name, m.get(3)))
        c.close()
        print("%s: PING, ECHO lobby, ECHO game" % kind)


def flow_s_client():
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % A.tls, "-quiet",
                          "-servername", "localhost", "-tls1_3"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(frame(T_PING, 5, f_int(1, 99)))
    p.stdin.flush()
    h = p.stdout.read(10)
    n, t, seq = struct.unpack(">IHI", h)
    body = p.stdout.read(n)
    p.kill()
    p.wait()
    check(t == T_PONG and seq == 5 and decode(body)[1] == [99], "openssl s_client: PING misanswered")
    print("openssl s_client -tls1_3: PING answered")


def flow_login_room():
    user = "ws%d" % (os.getpid() % 100000)
    c = connect("wss")
    call(c, T_REGISTER, f_bytes(1, user) + f_bytes(2, "password-123"), T_REGISTER_RESP)
    _, m = call(c, T_LOGIN, f_bytes(1, user) + f_bytes(2, "password-123"), T_LOGIN_RESP)
    check(len(m[2][0]) == 64, "login over wss: no token")
    _, m = call(c, T_CREATE_ROOM, f_bytes(1, "wss room") + f_int(2, 2), T_CREATE_ROOM_RESP)
    room = decode(m[1][0])[1][0]
    _, m = call(c, T_ROOM_LIST, b"", T_ROOM_LIST_RESP)
    ids = [decode(r)[1][0] for r in m.get(1, [])]
    check(room in ids, "the room created over wss is not listed")
    c.close()
    print("wss: REGISTER, LOGIN, CREATE_ROOM %d, GET_ROOM_LIST" % room)


def flow_resume():
    user = "tr%d" % (os.getpid() % 100000)
    t = connect("tcp")
    call(t, T_REGISTER, f_bytes(1, user) + f_bytes(2, "password-123"), T_REGISTER_RESP)
    _, m = call(t, T_LOGIN, f_bytes(1, user) + f_bytes(2, "password-123"), T_LOGIN_RESP)
    uid, token = m[1][0], m[2][0]
    _, m = call(t, T_CREATE_ROOM, f_bytes(1, "resume room") + f_int(2, 2), T_CREATE_ROOM_RESP)
    room = decode(m[1][0])[1][0]
    t.close()
    for kind in ("wss", "ws", "tls"):
        c = connect(kind)
        _, m = call(c, T_RESUME, f_bytes(1, token), T_RESUME_RESP)
        check(m[1] == [uid], "RESUME over %s: another user" % kind)
        check(decode(m[3][0])[1] == [room], "RESUME over %s: the room did not come back" % kind)
        c.close()
        time.sleep(0.2)
    print("logged in over tcp (user %d, room %d), resumed over wss, ws and tls" % (uid, room))


T_PREPARE, T_PREPARE_RESP, T_START, T_START_RESP = 118, 119, 120, 121
T_SNAPSHOT, T_SNAPSHOT_RESP = 200, 201
T_MATCH_START, T_STATE, T_GAME_OVER, T_ABORTED = 250, 251, 252, 253


def pump_match(c, match, until_over, seconds, seen):
    """Asks for a snapshot every 0.15 s (the match's own request path, and activity for the
    idle timeout) and reads until its answer, counting the pushes that come meanwhile in
    seen. Returns True at GAME_OVER, False after `seconds` (or, unless until_over, once
    MATCH_START and 3 snapshots were seen)."""
    t_end = time.time() + seconds
    while time.time() < t_end:
        seq = c.send(T_SNAPSHOT)
        while True:
            t, rseq, body = c.recv()
            if rseq == seq:
                if t == T_SNAPSHOT_RESP:
                    seen["snapshots"] = seen.get("snapshots", 0) + 1
                break
            check(t != T_ABORTED, "MATCH_ABORTED: %r" % decode(body).get(2))
            seen[t] = seen.get(t, 0) + 1
            if t in (T_MATCH_START, T_GAME_OVER):
                check(decode(body)[1] == [match], "type %d of another match" % t)
            if t == T_GAME_OVER:
                return True
        if not until_over and seen.get(T_MATCH_START) and seen.get("snapshots", 0) >= 3:
            return False
        time.sleep(0.15)
    return False


def flow_match():
    """A whole match over wss; halfway the player RESUMEs over ws and plays on to GAME_OVER."""
    user = "mw%d" % (os.getpid() % 100000)
    first, second = os.environ.get("MATCH_KINDS", "wss,ws").split(",")
    c = connect(first)
    call(c, T_REGISTER, f_bytes(1, user) + f_bytes(2, "password-123"), T_REGISTER_RESP)
    _, m = call(c, T_LOGIN, f_bytes(1, user) + f_bytes(2, "password-123"), T_LOGIN_RESP)
    token = m[2][0]
    call(c, T_CREATE_ROOM, f_bytes(1, "wss match") + f_int(2, 1), T_CREATE_ROOM_RESP)
    call(c, T_PREPARE, f_int(1, 1), T_PREPARE_RESP)
    _, m = call(c, T_START, b"", T_START_RESP)
    match = m[1][0]
    seen = {}
    check(not pump_match(c, match, False, 10, seen), "the match ended before the RESUME")
    check(seen.get(T_MATCH_START) == 1 and seen.get("snapshots", 0) >= 3, "over %s: %s" % (first, seen))
    c.close()
    c = connect(second)
    _, m = call(c, T_RESUME, f_bytes(1, token), T_RESUME_RESP)
    room = decode(m[3][0])
    check(room.get(7) == [match], "RESUME over ws: the room is not in match %d (%s)" % (match, room.get(7)))
    seen2 = {}
    check(pump_match(c, match, True, 20, seen2), "no GAME_OVER after the RESUME over %s: %s" % (second, seen2))
    check(seen2.get("snapshots", 0) >= 1, "no snapshot from the match after the RESUME: %s" % seen2)
    c.close()
    print("match %d: MATCH_START, %d snapshots, %d updates over %s; RESUME over %s: %d snapshots, "
          "%d updates, GAME_OVER" % (match, seen["snapshots"], seen.get(T_STATE, 0), first, second,
                                     seen2["snapshots"], seen2.get(T_STATE, 0)))


def metrics():
    import urllib.request
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % A.admin, timeout=5).read().decode()
    vals = {}
    for line in text.splitlines():
        if line.startswith("cluster_gateway_transport_handshake_failures_total{") or \
           line.startswith("cluster_gateway_ws_closes_sent_total{"):
            k, v = line.rsplit(" ", 1)
            vals[k] = float(v)
    want = ['failures_total{transport="tls",reason="not_tls"}', 'failures_total{transport="tls",reason="tls_version"}',
            'failures_total{transport="tls",reason="tls_other"}', 'failures_total{transport="tls",reason="timeout"}',
            'failures_total{transport="ws",reason="http_bad"}', 'failures_total{transport="ws",reason="ws_key"}',
            'failures_total{transport="ws",reason="ws_version"}', 'failures_total{transport="ws",reason="origin"}',
            'failures_total{transport="ws",reason="too_large"}', 'failures_total{transport="ws",reason="timeout"}',
            'closes_sent_total{transport="ws",code="1002"}', 'closes_sent_total{transport="ws",code="1003"}',
            'closes_sent_total{transport="ws",code="1008"}', 'closes_sent_total{transport="ws",code="1009"}']
    for w in want:
        got = [v for k, v in vals.items() if k.endswith(w)]
        check(got and got[0] > 0, "metric %s not counted" % w)
    print("metrics: every handshake failure reason and close code seen was counted")


SCENARIOS = {
    "http_get": bad_http_get, "oversized": bad_oversized, "slow": bad_slow, "bad_key": bad_key,
    "version8": bad_version, "origin": bad_origin, "unmasked": bad_unmasked, "text": bad_text,
    "fragmented": bad_fragmented, "control_big": bad_control_big, "ping_flood": bad_ping_flood,
    "close_no_status": bad_close_no_status, "too_long": bad_too_long, "two_frames": bad_two_frames,
    "plaintext_tls": bad_plaintext_tls, "garbage_hello": bad_garbage_hello, "old_tls": bad_old_tls,
    "silent_tls": lambda: bad_silent("tls"), "silent_wss": lambda: bad_silent("wss"),
    "tls_no_hello": bad_tls_silent_handshake, "session_limits": session_limits,
    "ping_echo": flow_ping_echo, "s_client": flow_s_client, "login_room": flow_login_room,
    "resume": flow_resume, "match": flow_match, "metrics": metrics,
}


def main():
    global A
    p = argparse.ArgumentParser()
    for k in ("tcp", "tls", "ws", "wss", "admin"):
        p.add_argument("--" + k, type=int, default=0)
    p.add_argument("--max-frame", type=int, default=4096)
    p.add_argument("--rate-burst", type=int, default=50)
    p.add_argument("--idle-ms", type=int, default=2000)
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    A = p.parse_args()
    try:
        SCENARIOS[A.scenario]()
    except (Fail, OSError, websocket.WebSocketException, ssl.SSLError, AssertionError) as e:
        print("FAIL %s: %s: %s" % (A.scenario, type(e).__name__, e))
        return 1
    print("ok %s" % A.scenario)
    return 0


if __name__ == "__main__":
    sys.exit(main())
