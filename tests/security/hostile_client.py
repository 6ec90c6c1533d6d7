#!/usr/bin/python3
"""A hostile client of Even's server sockets, written without the project's library.

It speaks ZeroMQ through python3-zmq and crafts Cap'n Proto by hand (segment table + words), so
nothing of Even's own encoder or decoder is trusted. Against each server socket it sends random
bytes, truncated and oversized frames, well-formed Cap'n Proto with absurd list sizes, pointer
loops, shared (amplified) payloads and NUL inside text, semantic junk, a flood of connects that
drop, and a flood of valid requests from one identity that never reads its replies. For the
dispatcher's feed (PULL) it forges CommittedBatch positions; on the dispatcher's PUB it sends
junk and oversized subscriptions and stays subscribed without reading.

Endpoints come from flags or from an Even config file (--config, the shared keys writer-endpoint,
reader-endpoint, dispatcher-pull-endpoint, dispatcher-pub-endpoint; flags win). With CURVE on the
servers, pass each server's public key (--curve-server-key ROLE=FILE, zcert format): the attack
sockets then also run the handshake with a fresh key pair of their own, which no allowlist holds,
besides the plain ones; --curve-client-cert FILE uses a listed client's certificate instead, to
attack past authentication.

It prints one line per attack (what was sent, the replies by error code) and a final line
"hostile: done ..." and exits 0, or exits 1 when a server answered a hostile request with a
success it must not give (an append acknowledged, a read page for junk). The checks of the
servers' state (alive, RSS, store unchanged, feed clean) belong to the caller.
"""

import argparse
import random
import socket
import struct
import sys
import time

import zmq
import zmq.auth

WRITER_REPLY_TAGS = {0: "error", 1: "append", 2: "pong"}
READER_REPLY_TAGS = {0: "error", 1: "page", 2: "streamInfo", 3: "head"}
ERROR_CODES = ["none", "malformed", "tooLarge", "unsupportedVersion", "invalidStream", "invalidEvent",
               "wrongExpectedVersion", "duplicateEvent", "busy", "unavailable", "notFound", "badRange", "internal"]


# ---- Cap'n Proto by hand -------------------------------------------------------------------------
class Msg:
    """One flat single-segment Cap'n Proto message built word by word (word 0: the root pointer)."""

    def __init__(self):
        self.buf = bytearray(8)

    def alloc(self, words):
        at = len(self.buf) // 8
        self.buf += bytes(8 * words)
        return at

    def put(self, word, byte_off, fmt, value):
        struct.pack_into("<" + fmt, self.buf, word * 8 + byte_off, value)

    def ptr(self, at, value):
        struct.pack_into("<Q", self.buf, at * 8, value & 0xFFFFFFFFFFFFFFFF)

    @staticmethod
    def struct_ptr_value(offset, data_words, ptr_count):
        return ((offset & 0x3FFFFFFF) << 2) | (data_words << 32) | (ptr_count << 48)

    @staticmethod
    def list_ptr_value(offset, elem_size, count):
        return ((offset & 0x3FFFFFFF) << 2) | 1 | (elem_size << 32) | ((count & 0x1FFFFFFF) << 35)

    def new_struct(self, ptr_at, data_words, ptr_count):
        at = self.alloc(data_words + ptr_count)
        self.ptr(ptr_at, self.struct_ptr_value(at - ptr_at - 1, data_words, ptr_count))
        return at  # data at `at`, pointers at at + data_words

    def point_struct(self, ptr_at, target, data_words, ptr_count):
        self.ptr(ptr_at, self.struct_ptr_value(target - ptr_at - 1, data_words, ptr_count))

    def blob(self, ptr_at, data, text):
        raw = data + (b"\0" if text else b"")
        at = self.alloc((len(raw) + 7) // 8)
        self.buf[at * 8:at * 8 + len(raw)] = raw
        self.ptr(ptr_at, self.list_ptr_value(at - ptr_at - 1, 2, len(raw)))
        return at

    def text(self, ptr_at, s):
        return self.blob(ptr_at, s if isinstance(s, bytes) else s.encode(), True)

    def data(self, ptr_at, b):
        return self.blob(ptr_at, b, False)

    def struct_list(self, ptr_at, count, data_words, ptr_count):
        per = data_words + ptr_count
        tag = self.alloc(1 + count * per)
        self.ptr(tag, self.struct_ptr_value(count, data_words, ptr_count))
        self.ptr(ptr_at, self.list_ptr_value(tag - ptr_at - 1, 7, count * per))
        return [tag + 1 + i * per for i in range(count)]

    def text_list(self, ptr_at, items):
        at = self.alloc(len(items))
        self.ptr(ptr_at, self.list_ptr_value(at - ptr_at - 1, 6, len(items)))
        for i, s in enumerate(items):
            self.text(at + i, s)

    def frame(self, segment_words=None):
        words = len(self.buf) // 8 if segment_words is None else segment_words
        return struct.pack("<II", 0, words) + bytes(self.buf)


def reply_summary(frame, tags):
    """(kind, error code name) of a WriterReply / ReaderReply, read by hand."""
    try:
        if len(frame) < 16:
            return ("short", None)
        n, size = struct.unpack_from("<II", frame, 0)
        if n != 0:
            return ("multi-segment", None)
        base = 8
        root = struct.unpack_from("<Q", frame, base)[0]
        off = (root >> 2) & 0x3FFFFFFF
        if off & 0x20000000:
            off -= 0x40000000
        data_words = (root >> 32) & 0xFFFF
        s = base + 8 + off * 8
        tag = struct.unpack_from("<H", frame, s + 8)[0]
        kind = tags.get(tag, "tag%d" % tag)
        if kind != "error":
            return (kind, None)
        p_at = s + data_words * 8
        p = struct.unpack_from("<Q", frame, p_at)[0]
        poff = (p >> 2) & 0x3FFFFFFF
        if poff & 0x20000000:
            poff -= 0x40000000
        code = struct.unpack_from("<H", frame, p_at + 8 + poff * 8)[0]
        return ("error", ERROR_CODES[code] if code < len(ERROR_CODES) else "code%d" % code)
    except struct.error:
        return ("unreadable", None)


def event_id(rng):
    return bytes(rng.getrandbits(8) for _ in range(16))


def request(request_id, tag, version=1):
    """A WriterRequest or ReaderRequest root (the same layout: version, union tag, request id, one
    pointer to the union's struct)."""
    m = Msg()
    root = m.new_struct(0, 2, 1)
    m.put(root, 0, "H", version)
    m.put(root, 2, "H", tag)
    m.put(root, 8, "Q", request_id)
    return m, root


def writer_request(request_id, version=1, tag=0):
    return request(request_id, tag, version)


def append_request(rng, request_id, stream="hostile-1", events=1, exact=None, version=1, etype="Hostile",
                   payload=b"{}", eid=None):
    m, root = writer_request(request_id, version)
    ar = m.new_struct(root + 2, 0, 3)
    m.text(ar, stream)
    ev = m.new_struct(ar + 1, 2, 0)
    if exact is not None:
        m.put(ev, 0, "H", 3)
        m.put(ev, 8, "q", exact)
    for e in m.struct_list(ar + 2, events, 1, 4):
        m.data(e + 1, eid if eid is not None else event_id(rng))
        m.text(e + 2, etype)
        m.data(e + 3, b"")
        m.data(e + 4, payload)
        m.put(e, 0, "H", 1)
    return m


def ping(request_id):
    m, _ = writer_request(request_id, tag=1)
    return m.frame()


reader_request = request


def read_all(request_id, start=1, categories=(), types=(), max_count=0):
    m, root = reader_request(request_id, 1)
    ra = m.new_struct(root + 2, 2, 2)
    m.put(ra, 0, "Q", start)
    m.put(ra, 8, "I", max_count)
    if categories:
        m.text_list(ra + 2, list(categories))
    if types:
        m.text_list(ra + 3, list(types))
    return m


def read_stream(request_id, stream, start=1, max_count=0, direction=0):
    m, root = reader_request(request_id, 0)
    rs = m.new_struct(root + 2, 2, 1)
    m.put(rs, 0, "q", start)
    m.put(rs, 8, "H", direction)
    m.put(rs, 12, "I", max_count)
    m.text(rs + 2, stream)
    return m


def committed_batch(rng, events):
    """events: list of (global_seq, stream, stream_seq, event_id or None)."""
    m = Msg()
    root = m.new_struct(0, 0, 1)
    for at, (gseq, stream, sseq, eid) in zip(m.struct_list(root, len(events), 4, 5), events):
        m.put(at, 0, "Q", gseq)
        m.put(at, 8, "q", sseq)
        m.put(at, 16, "q", int(time.time() * 1e6))
        m.put(at, 24, "H", 1)
        m.data(at + 4, eid if eid is not None else event_id(rng))
        m.text(at + 5, stream)
        m.text(at + 6, "Forged")
        m.data(at + 7, b"")
        m.data(at + 8, b'{"forged":true}')
    return m


# ---- hostile frames, shared by the request sockets -----------------------------------------------
def random_frames(rng, n):
    out = []
    for i in range(n):
        size = rng.choice([0, 1, 7, 8, 9, 15, 16, 24, 64, 100, 1000, 4096, rng.randrange(0, 8192)])
        if i % 3 == 0:
            size -= size % 8  # whole words: past the size check, into Cap'n Proto
        body = bytearray(rng.getrandbits(8) for _ in range(size))
        if i % 5 == 0 and size >= 8:
            struct.pack_into("<II", body, 0, 0, (size - 8) // 8)  # a plausible segment table, junk after it
        out.append(bytes(body))
    return out


def truncations(frame):
    cuts = sorted({1, 4, 7, 8, 12, 16, 24, len(frame) // 2, len(frame) - 8, len(frame) - 1})
    return [frame[:c] for c in cuts if 0 < c < len(frame)]


def absurd_capnp(good):
    """Well-formed framing, absurd content. `good` builds a valid request message (a Msg)."""
    out = []
    # The segment table claims more words than the frame holds, and far fewer.
    f = good().frame()
    out.append(struct.pack("<II", 0, 0x0FFFFFFF) + f[8:])
    out.append(struct.pack("<II", 0, 1) + f[8:])
    # 512 segments (Cap'n Proto's maximum) of huge sizes, and of zero size.
    out.append(struct.pack("<I", 511) + struct.pack("<I", 0x7FFFFFFF) * 511 + bytes(8 * 4))
    out.append(struct.pack("<I", 511) + bytes(4 * 511) + bytes(8 * 4))
    # The root is a far pointer into a segment that does not exist.
    out.append(struct.pack("<II", 0, 1) + struct.pack("<Q", 2 | (0x7FFF << 3) | (99 << 32)))
    # Root struct pointer whose offset points far outside the segment, and one pointing at itself.
    out.append(struct.pack("<II", 0, 1) + struct.pack("<Q", Msg.struct_ptr_value(0x1FFFFFFF, 2, 1)))
    out.append(struct.pack("<II", 0, 1) + struct.pack("<Q", Msg.struct_ptr_value(-1, 0, 1)))
    # Lists with absurd sizes in the request's first list/struct pointer: 2^29-1 void elements
    # (no bytes at all), 2^29-1 bytes, a composite list whose tag claims 2^29 elements, a list of
    # pointers that all point back at the root (a loop).
    m = good()
    body = bytearray(m.frame())
    seg = 8
    root_at = 1
    data_words = (struct.unpack_from("<Q", body, seg)[0] >> 32) & 0xFFFF
    first_ptr = root_at + data_words
    first_struct_ptr = struct.unpack_from("<Q", body, seg + first_ptr * 8)[0]
    off = (first_struct_ptr >> 2) & 0x3FFFFFFF
    child = first_ptr + 1 + off
    child_data = (first_struct_ptr >> 32) & 0xFFFF
    for elem_size, count in [(0, 0x1FFFFFFF), (2, 0x1FFFFFFF), (1, 0x1FFFFFFF), (5, 0x1FFFFFFF), (6, 0x1FFFFFFF)]:
        b = bytearray(body)
        for p in range(child + child_data, child + child_data + 3):
            if (p + 1) * 8 + seg <= len(b):
                struct.pack_into("<Q", b, seg + p * 8, Msg.list_ptr_value(0, elem_size, count))
        out.append(bytes(b))
    b = bytearray(body)
    if len(b) >= seg + (child + child_data + 2) * 8:
        tag_at = child + child_data + 1
        struct.pack_into("<Q", b, seg + (child + child_data) * 8, Msg.list_ptr_value(0, 7, 0x1FFFFFFF))
        struct.pack_into("<Q", b, seg + tag_at * 8, Msg.struct_ptr_value(0x1FFFFFFF, 4, 5))
        out.append(bytes(b))
    # The first pointer points back at the root struct: a loop, followed until the budget ends.
    b = bytearray(body)
    struct.pack_into("<Q", b, seg + first_ptr * 8, Msg.struct_ptr_value(root_at - first_ptr - 1, 2, 1))
    out.append(bytes(b))
    # Every pointer of the child points at the child itself.
    b = bytearray(body)
    for p in range(child + child_data, child + child_data + 3):
        if (p + 1) * 8 + seg <= len(b):
            struct.pack_into("<Q", b, seg + p * 8, Msg.struct_ptr_value(child - p - 1, child_data, 3))
    out.append(bytes(b))
    return out


def writer_junk(rng):
    """Requests that must be refused by the writer, each with a request id >= 1000."""
    out = []
    rid = iter(range(1000, 10 ** 9))
    good = lambda: append_request(rng, next(rid), stream="hostile-absurd")
    out += random_frames(rng, 300)
    out += truncations(append_request(rng, next(rid), events=3).frame())
    out += absurd_capnp(good)
    # Amplification: 2,000 events whose payloads all point at one 64 KiB blob (128 MiB decoded).
    m = append_request(rng, next(rid), stream="hostile-amplified", events=2000, payload=b"")
    blob_at = m.alloc(8192)
    # Rewrite every event's payload pointer (4th pointer of each element) to the shared blob.
    ar_ptr = struct.unpack_from("<Q", m.buf, 8 * (1 + 2))[0]
    ar = 1 + 2 + 1 + ((ar_ptr >> 2) & 0x3FFFFFFF)
    ev_list_ptr_at = ar + 2
    lp = struct.unpack_from("<Q", m.buf, 8 * ev_list_ptr_at)[0]
    tag = ev_list_ptr_at + 1 + ((lp >> 2) & 0x3FFFFFFF)
    for i in range(2000):
        e = tag + 1 + i * 5
        m.ptr(e + 4, Msg.list_ptr_value(blob_at - (e + 4) - 1, 2, 8192 * 8))
    out.append(m.frame())
    # NUL inside text: the stream, the type.
    out.append(append_request(rng, next(rid), stream=b"hostile\0evil").frame())
    out.append(append_request(rng, next(rid), etype=b"Type\0Evil").frame())
    # Semantic junk: unknown protocol version and union tag, short event id, no events, a 10 KB
    # stream name, exact version 0, an unknown payload format.
    out.append(append_request(rng, next(rid), version=999).frame())
    m, _ = writer_request(next(rid), tag=77)
    out.append(m.frame())
    out.append(append_request(rng, next(rid), eid=b"abc").frame())
    out.append(append_request(rng, next(rid), events=0).frame())
    out.append(append_request(rng, next(rid), stream="s" * 10000).frame())
    out.append(append_request(rng, next(rid), stream="", exact=None).frame())
    out.append(append_request(rng, next(rid), exact=0).frame())
    out.append(append_request(rng, next(rid), events=1, etype="9starts-with-digit").frame())
    return out


def reader_junk(rng):
    out = []
    rid = iter(range(1000, 10 ** 9))
    out += random_frames(rng, 300)
    out += truncations(read_all(next(rid), categories=["a", "b"]).frame())
    out += absurd_capnp(lambda: read_all(next(rid), categories=["acct", "x"], types=["T"]))
    out += absurd_capnp(lambda: read_stream(next(rid), "hostile-1"))
    out.append(read_stream(next(rid), b"stream\0evil").frame())
    out.append(read_all(next(rid), categories=[b"cat\0evil"]).frame())
    out.append(read_all(next(rid), categories=["c%d" % i for i in range(20000)]).frame())
    m, _ = reader_request(next(rid), 1, version=999)
    out.append(m.frame())
    m, _ = reader_request(next(rid), 99)
    out.append(m.frame())
    out.append(read_stream(next(rid), "s" * 10000).frame())
    out.append(read_stream(next(rid), "hostile-1", start=-5).frame())
    return out


# ---- the attacks ----------------------------------------------------------------------------------
class Attacker:
    def __init__(self, args):
        self.args = args
        self.ctx = zmq.Context()
        self.rng = random.Random(args.seed)
        self.failures = []
        self.curve_server = {}
        for item in args.curve_server_key:
            role, _, path = item.partition("=")
            self.curve_server[role] = zmq.auth.load_certificate(path)[0]
        self.client_cert = None
        if args.curve_client_cert:
            self.client_cert = zmq.auth.load_certificate(args.curve_client_cert)

    def socket(self, kind, role, endpoint, curve=False, identity=None, hwm=100000, heartbeat_ms=0):
        s = self.ctx.socket(kind)
        if heartbeat_ms:
            s.setsockopt(zmq.HEARTBEAT_IVL, heartbeat_ms)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, hwm)
        s.setsockopt(zmq.RCVHWM, hwm)
        s.setsockopt(zmq.SNDTIMEO, 2000)
        if identity is not None:
            s.setsockopt(zmq.IDENTITY, identity)
        if curve and role in self.curve_server:
            if self.client_cert:
                public, secret = self.client_cert
            else:
                public, secret = zmq.curve_keypair()
            s.curve_serverkey = self.curve_server[role]
            s.curve_publickey = public
            s.curve_secretkey = secret
        s.connect(endpoint)
        return s

    def refused(self, label, curve, counts):
        """With --expect-refused, a socket without a listed key (plain, or CURVE with a fresh key
        pair) must get nothing back at all."""
        if self.args.expect_refused and counts and not (curve and self.client_cert):
            self.failures.append("%s was answered without a listed key: %s" % (label, counts))

    def variants(self):
        """Plain sockets always; with a server key, CURVE ones as well."""
        return [False] + ([True] if self.curve_server else [])

    def log(self, target, what, **counts):
        print("hostile: %-10s %-28s %s" % (target, what, " ".join("%s=%s" % kv for kv in sorted(counts.items()))),
              flush=True)

    def send_all(self, s, frames, multipart_every=0):
        sent = 0
        for i, f in enumerate(frames):
            try:
                if multipart_every and i % multipart_every == 0:
                    s.send_multipart([f, f, b"junk"])
                else:
                    s.send(f)
                sent += 1
            except zmq.Again:
                break
        return sent

    def collect(self, s, tags, seconds, expected=None):
        """Reads replies until `expected` arrived or `seconds` of silence; counts them by kind."""
        counts = {}
        got = 0
        poller = zmq.Poller()
        poller.register(s, zmq.POLLIN)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (expected is None or got < expected):
            if not poller.poll(200):
                continue
            kind, code = reply_summary(s.recv(), tags)
            key = code or kind
            counts[key] = counts.get(key, 0) + 1
            got += 1
            deadline = time.monotonic() + seconds
        return counts

    def request_junk(self, target, endpoint, frames, tags, success_kinds, max_bytes):
        for curve in self.variants():
            label = target + ("+curve" if curve else "")
            s = self.socket(zmq.DEALER, target, endpoint, curve)
            sent = self.send_all(s, frames, multipart_every=17)
            counts = self.collect(s, tags, self.args.reply_wait)
            self.log(label, "junk", sent=sent, **counts)
            self.refused(label, curve, counts)
            bad = {k: v for k, v in counts.items() if k in success_kinds}
            if bad:
                self.failures.append("%s answered junk with success: %s" % (label, bad))
            s.close()
            # Oversized: above the service limit (a tooLarge reply), and above twice it (libzmq
            # drops the connection; nothing comes back).
            s = self.socket(zmq.DEALER, target, endpoint, curve)
            over = bytearray(max_bytes + 8)
            struct.pack_into("<IIQ", over, 0, 0, (max_bytes) // 8, 0)
            s.send(bytes(over))
            counts = self.collect(s, tags, self.args.reply_wait, expected=1)
            self.log(label, "oversized %d" % len(over), **counts)
            self.refused(label, curve, counts)
            if any(k in success_kinds for k in counts):
                self.failures.append("%s answered an oversized frame with success" % label)
            s.close()
            s = self.socket(zmq.DEALER, target, endpoint, curve)
            s.send(bytes(2 * max_bytes + 64))
            counts = self.collect(s, tags, 1.0)
            self.log(label, "oversized %d" % (2 * max_bytes + 64), **counts)
            s.close()

    def connect_flood(self, target, endpoint, kind, n):
        for curve in self.variants():
            socks = []
            for i in range(n):
                s = self.socket(kind, target, endpoint, curve)
                if kind == zmq.DEALER and i % 2 == 0:
                    try:
                        s.send(b"\0" * 8, zmq.NOBLOCK)
                    except zmq.Again:
                        pass
                socks.append(s)
                if len(socks) >= 100:  # at most 100 open at once: the driver's own fds are bounded
                    time.sleep(0.05)
                    for x in socks:
                        x.close()
                    socks = []
            for x in socks:
                x.close()
            self.log(target + ("+curve" if curve else ""), "connect flood", sockets=n)

    def flood_and_drop(self, target, endpoint, frames, label="flood and drop"):
        """Connections that each send more requests than the server's receive queue holds (its input
        from us stops) and go away after a random 50-1000 ms, half of them with ZMTP heartbeats of
        their own. libzmq 4.3.4 aborted a server whose heartbeat timer fired on such a connection
        (zeromq/libzmq#4364): the reader died within 20 of these."""
        for curve in self.variants():
            for i in range(self.args.drops):
                s = self.socket(zmq.DEALER, target, endpoint, curve, hwm=len(frames) + 1,
                                heartbeat_ms=50 if i % 2 else 0)
                self.send_all(s, frames)
                time.sleep(self.rng.uniform(0.05, 1.0))
                s.close()
            self.log(target + ("+curve" if curve else ""), label, connections=self.args.drops,
                     requests=len(frames))

    def writer(self):
        ep = self.args.writer
        self.request_junk("writer", ep, writer_junk(self.rng), WRITER_REPLY_TAGS, {"append"},
                          self.args.writer_max_bytes)
        self.connect_flood("writer", ep, zmq.DEALER, self.args.connects)
        # A flood of valid requests from one identity that never reads: pings, and appends that
        # cannot commit (an exact version on a stream that does not exist: a conflict, decided in
        # the store's transaction). Then the socket closes with everything unread.
        for curve in self.variants():
            s = self.socket(zmq.DEALER, "writer", ep, curve, identity=b"hostile-flood", hwm=self.args.flood)
            frames = []
            for i in range(self.args.flood):
                if i % 2:
                    frames.append(ping(i))
                else:
                    frames.append(append_request(self.rng, i, stream="hostile-flood-%d" % (i % 50),
                                                 exact=10 ** 6).frame())
            sent = self.send_all(s, frames)
            time.sleep(self.args.flood_hold)
            self.log("writer" + ("+curve" if curve else ""), "flood, replies unread", sent=sent)
            s.close()
            # A second pass reads the replies: no append may have been acknowledged.
            s = self.socket(zmq.DEALER, "writer", ep, curve, hwm=self.args.flood)
            sent = self.send_all(s, frames[: self.args.flood // 4])
            counts = self.collect(s, WRITER_REPLY_TAGS, self.args.reply_wait, expected=sent)
            self.log("writer" + ("+curve" if curve else ""), "flood, replies read", sent=sent, **counts)
            self.refused("writer" + ("+curve" if curve else ""), curve, counts)
            if counts.get("append"):
                self.failures.append("writer acknowledged %d appends that must conflict" % counts["append"])
            s.close()
        self.flood_and_drop("writer", ep, [ping(i) for i in range(15000)])

    def reader(self):
        ep = self.args.reader
        self.request_junk("reader", ep, reader_junk(self.rng), READER_REPLY_TAGS, set(),
                          self.args.reader_max_bytes)
        self.connect_flood("reader", ep, zmq.DEALER, self.args.connects)
        for curve in self.variants():
            s = self.socket(zmq.DEALER, "reader", ep, curve, identity=b"hostile-flood", hwm=self.args.flood)
            frames = [read_all(i, start=1, max_count=0xFFFFFFFF).frame() if i % 2 else
                      read_stream(i, "hostile-none").frame() for i in range(self.args.flood)]
            sent = self.send_all(s, frames)
            time.sleep(self.args.flood_hold)
            self.log("reader" + ("+curve" if curve else ""), "flood, replies unread", sent=sent)
            s.close()
        self.flood_and_drop("reader", ep, [reader_request(i, 4)[0].frame() for i in range(5000)])  # head: small replies
        if not self.args.no_drop_pages:
            # readAll of every event (pages): before the reader's per-client limit of requests in
            # flight, it built pages for all of them and held them long after the client left.
            self.flood_and_drop("reader", ep, [read_all(i, max_count=0xFFFFFFFF).frame() for i in range(5000)],
                                "flood and drop, pages")

    def feed(self):
        ep = self.args.feed
        for curve in self.variants():
            label = "feed" + ("+curve" if curve else "")
            s = self.socket(zmq.PUSH, "feed", ep, curve)
            junk = random_frames(self.rng, 300)
            good = lambda: committed_batch(self.rng, [(10 ** 6, "hostile-feed", 1, None)])
            junk += truncations(committed_batch(self.rng, [(5, "a-1", 1, None), (6, "a-1", 2, None)]).frame())
            junk += absurd_capnp(good)
            junk.append(committed_batch(self.rng, [(7, b"nul\0stream", 1, None)]).frame())
            sent = self.send_all(s, junk, multipart_every=13)
            self.log(label, "junk", sent=sent)
            # Forged positions: the next ones above the head, far beyond it, 0, the largest, and
            # every position the good client may have written so far, with ids of our own.
            forged = 0
            positions = list(range(1, self.args.forge_upto + 1)) + [0, 2 ** 63, 2 ** 64 - 1, 10 ** 9]
            for i in range(0, len(positions), 20):
                chunk = positions[i:i + 20]
                batch = committed_batch(self.rng, [(p, "bank-%d" % (p % 7), min(p, 2 ** 62), None) for p in chunk])
                forged += self.send_all(s, [batch.frame()]) * len(chunk)
            self.log(label, "forged positions", events=forged)
            over = bytes(2 * self.args.feed_max_bytes + 64)
            s.send(over)
            self.log(label, "oversized", bytes=len(over))
            n = 0
            for i in range(self.args.flood):
                p = self.args.forge_upto + 1 + i
                n += self.send_all(s, [committed_batch(self.rng, [(p, "flood-%d" % (i % 10), 1, None)]).frame()])
            self.log(label, "forged flood", sent=n)
            s.close()
        self.connect_flood("feed", ep, zmq.PUSH, self.args.connects)

    def pub(self):
        ep = self.args.pub
        for curve in self.variants():
            label = "pub" + ("+curve" if curve else "")
            # A subscriber that takes everything and never reads.
            idle = self.socket(zmq.SUB, "pub", ep, curve, hwm=1000)
            idle.setsockopt(zmq.SUBSCRIBE, b"")
            # Junk subscriptions through XSUB: random topics, unsubscribes of what was never
            # subscribed, messages that are neither, and large subscriptions.
            x = self.socket(zmq.XSUB, "pub", ep, curve)
            junk = []
            for i in range(self.args.subscriptions):
                topic = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randrange(1, 64)))
                junk.append(bytes([1]) + topic)
                if i % 3 == 0:
                    junk.append(bytes([0]) + topic[::-1])
                if i % 5 == 0:
                    junk.append(bytes([self.rng.randrange(2, 256)]) + topic)
            sent = self.send_all(x, junk)
            self.log(label, "junk subscriptions", sent=sent)
            if not curve:  # raw ZMTP: no CURVE handshake of its own
                big = 0
                for size in self.args.big_subscriptions:
                    topic = bytes([1]) + bytes(self.rng.getrandbits(8) for _ in range(16)) + b"x" * size
                    big += zmtp_send(ep, b"SUB", [topic])
                self.log(label, "large subscriptions (raw)", bytes=big,
                         sizes=",".join(map(str, self.args.big_subscriptions)))
            time.sleep(self.args.flood_hold)
            x.close()
            idle.close()
        self.connect_flood("pub", ep, zmq.SUB, self.args.connects)


def zmtp_send(endpoint, socket_type, frames, hold=0.2):
    """Speaks ZMTP 3.0 (NULL mechanism) over a plain TCP socket and sends `frames` as single-frame
    messages: what a peer with its own ZeroMQ code can send, past any check of the sender's
    libzmq (an XSUB keeps its own subscriptions in a recursive trie, so Python's libzmq cannot even
    hold a 1 MiB subscription). Returns the bytes written before the server closed the connection."""
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    sent = 0
    try:
        with socket.create_connection((host, int(port)), timeout=5) as c:
            c.sendall(b"\xff" + bytes(8) + b"\x7f" + bytes([3, 0]) + b"NULL".ljust(20, b"\0") + bytes(32))
            props = b"\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + socket_type
            body = b"\x05READY" + props
            c.sendall(bytes([0x04, len(body)]) + body)
            for f in frames:
                c.sendall((bytes([0x02]) + struct.pack(">Q", len(f)) if len(f) > 255 else bytes([0, len(f)])) + f)
                sent += len(f)
            time.sleep(hold)
    except OSError:
        pass
    return sent


def read_config(path):
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line.startswith("["):
                break  # the shared keys come first
            if "=" in line:
                k, v = (x.strip() for x in line.split("=", 1))
                keys[k] = v
    return keys


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="an Even config file; its shared endpoint keys are the defaults")
    p.add_argument("--writer", help="writer-endpoint (ROUTER)")
    p.add_argument("--reader", help="reader-endpoint (ROUTER)")
    p.add_argument("--feed", help="dispatcher-pull-endpoint (PULL, the writer->dispatcher feed)")
    p.add_argument("--pub", help="dispatcher-pub-endpoint (PUB)")
    p.add_argument("--targets", default="writer,reader,feed,pub", help="which sockets to attack, in this order")
    p.add_argument("--rounds", type=int, default=1, help="repeat every attack this many times")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--connects", type=int, default=500, help="sockets per connect flood")
    p.add_argument("--flood", type=int, default=20000, help="valid requests per flood from one identity")
    p.add_argument("--drops", type=int, default=16, help="connections per flood-and-drop attack")
    p.add_argument("--no-drop-pages", action="store_true",
                   help="skip the reader's second flood-and-drop, of readAll requests (pages), after the one of "
                        "head requests (tests/security/README.md)")
    p.add_argument("--flood-hold", type=float, default=1.0, help="seconds a flood stays connected, unread")
    p.add_argument("--reply-wait", type=float, default=2.0, help="seconds of silence that end a wait for replies")
    p.add_argument("--forge-upto", type=int, default=2000, help="forge feed events at positions 1..N")
    p.add_argument("--subscriptions", type=int, default=10000, help="junk subscriptions sent to the PUB")
    p.add_argument("--big-subscriptions", default="1048576,4194304",
                   help="sizes (bytes) of large subscriptions, comma-separated; empty for none")
    p.add_argument("--writer-max-bytes", type=int, default=16 << 20, help="the writer's --writer.max-message-bytes")
    p.add_argument("--reader-max-bytes", type=int, default=1 << 20, help="the reader's --reader.max-request-bytes")
    p.add_argument("--feed-max-bytes", type=int, default=16 << 20, help="the dispatcher's message limit")
    p.add_argument("--curve-server-key", action="append", default=[], metavar="ROLE=FILE",
                   help="a server's public key (zcert file); ROLE is writer, reader, feed or pub")
    p.add_argument("--expect-refused", action="store_true",
                   help="the servers run CURVE with an allowlist: any reply to a socket without a listed key "
                        "(plain, or a fresh CURVE key pair) is a failure")
    p.add_argument("--curve-client-cert", help="a client certificate (zcert secret file) for the CURVE sockets; "
                                               "default: a fresh key pair that no allowlist holds")
    args = p.parse_args()
    conf = read_config(args.config) if args.config else {}
    for flag, key in [("writer", "writer-endpoint"), ("reader", "reader-endpoint"),
                      ("feed", "dispatcher-pull-endpoint"), ("pub", "dispatcher-pub-endpoint")]:
        if getattr(args, flag) is None:
            setattr(args, flag, conf.get(key))
    args.big_subscriptions = [int(x) for x in args.big_subscriptions.split(",") if x]
    targets = [t for t in args.targets.split(",") if t]
    for t in targets:
        if t not in ("writer", "reader", "feed", "pub"):
            p.error("unknown target " + t)
        if not getattr(args, t):
            p.error("no endpoint for " + t + " (flag or --config)")
    attacker = Attacker(args)
    started = time.monotonic()
    for r in range(args.rounds):
        for t in targets:
            getattr(attacker, t)()
    attacker.ctx.destroy(linger=0)
    for f in attacker.failures:
        print("hostile: FAILURE " + f, flush=True)
    print("hostile: done in %.1f s, %d failures" % (time.monotonic() - started, len(attacker.failures)), flush=True)
    return 1 if attacker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
