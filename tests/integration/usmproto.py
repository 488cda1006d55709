"""A client of the usmd protocol (lib/proto/proto.h, docs/protocol.md) for
the tests: the structs as the C code lays them out, and a connection that
sends, receives and answers as a tagger does. Shared by usmd.py and
usmd_purge.py."""
import os
import socket
import struct

M = 1 << 20

MAGIC, VERSION = 0x314D5355, 3
(HELLO, WELCOME, ERROR, LEASE, GRANT, RECLAIM, RECLAIMED, RELEASE, STATS, HINT,
 SET_POLICY, BYE, STATUS_REQ, STATUS, STORE) = range(1, 16)
CLIENT, MONITOR = 1, 2
SET_LIMIT, SET_POLICY_BIT, SET_STORE = 1, 2, 4
WILLNEED, SEQUENTIAL, COLD, PIN, UNPIN = range(1, 6)
HEADER = struct.Struct("=IHHII")
HELLO_S = struct.Struct("=II16sIIQQQ16s")
WELCOME_S = struct.Struct("=QQII16s256s")
ERROR_S = struct.Struct("=i200s")
AMOUNT_S = struct.Struct("=QQ")
STATS_S = struct.Struct("=13Q16s")
HINT_S = struct.Struct("=IIQ")
SET_POLICY_S = struct.Struct("=16s")
POOL_S = struct.Struct("=4QII16s")
ROW_S = struct.Struct("=IIiI16s16s13Q")
STORE_S = struct.Struct("=4096s128s")


def cstr(b):
    return b.split(b"\0", 1)[0].decode()


class Conn:
    def __init__(self, path, wait=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(wait)
        self.s.connect(path)
        self.buf = b""
        self.seq = 0
        self.grant = 0

    def raw(self, data):
        self.s.sendall(data)

    def send(self, type_, payload=b"", magic=MAGIC, version=VERSION, length=None):
        self.seq += 1
        ln = len(payload) if length is None else length
        self.raw(HEADER.pack(magic, version, type_, ln, self.seq) + payload)

    def recv(self):
        """(type, payload), or None at the end of the stream."""
        while True:
            if len(self.buf) >= HEADER.size:
                _, _, t, ln, _ = HEADER.unpack_from(self.buf)
                if len(self.buf) >= HEADER.size + ln:
                    p = self.buf[HEADER.size:HEADER.size + ln]
                    self.buf = self.buf[HEADER.size + ln:]
                    return t, p
            try:
                data = self.s.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self.buf += data

    def expect(self, type_):
        m = self.recv()
        if m is None:
            raise AssertionError(f"usmd closed the connection; wanted type {type_}")
        if m[0] == ERROR and type_ != ERROR:
            code, text = ERROR_S.unpack(m[1])
            raise AssertionError(f"usmd said ERROR {code}: {cstr(text)}")
        if m[0] != type_:
            raise AssertionError(f"got type {m[0]}, wanted {type_}")
        return m[1]

    def error(self):
        """The ERROR usmd sends before it closes: (code, text), or None."""
        while True:
            m = self.recv()
            if m is None:
                return None
            if m[0] == ERROR:
                code, text = ERROR_S.unpack(m[1])
                return code, cstr(text)

    def hello(self, name, min_grant=M, limit=0, set_by_user=0, resident=0, policy="clock",
              pid=None):
        self.send(HELLO, HELLO_S.pack(pid or os.getpid(), CLIENT, name.encode(), set_by_user,
                                      65536, limit, min_grant, resident, policy.encode()))
        grant, lim, interval, _, pol, store = WELCOME_S.unpack(self.expect(WELCOME))
        self.grant = grant
        return dict(grant=grant, limit=lim, interval=interval, policy=cstr(pol),
                    store=cstr(store))

    def monitor(self):
        self.send(HELLO, HELLO_S.pack(os.getpid(), MONITOR, b"test", 0, 0, 0, 0, 0, b""))

    def amount(self, type_, nbytes):
        self.send(type_, AMOUNT_S.pack(nbytes, 0))

    def expect_amount(self, type_):
        b, total = AMOUNT_S.unpack(self.expect(type_))
        self.grant += b if type_ == GRANT else 0
        return b, total

    def sync(self):
        """A LEASE of nothing: its GRANT 0 comes once usmd has read all
        this connection sent before (order across connections is not
        given, so a check that another client must see waits for it)."""
        self.amount(LEASE, 0)
        return self.expect_amount(GRANT)

    def answer_reclaim(self):
        """Takes a RECLAIM and gives back what it asks, as a tagger does."""
        b, total = AMOUNT_S.unpack(self.expect(RECLAIM))
        give = min(b, self.grant)  # amounts are changes, as in runtime/tagger/link.c
        self.grant -= give
        self.amount(RECLAIMED, give)
        self.sync()
        return b

    def stats(self, resident, policy="clock"):
        self.send(STATS, STATS_S.pack(resident, resident, 1, 2, 3, 4, 5, 6, 7, 0, 8, 9, 10,
                                      policy.encode()))

    def store(self, spec, prefix):
        self.send(STORE, STORE_S.pack(spec.encode(), prefix.encode()))

    def close(self):
        self.s.close()
