#!/usr/bin/env python3
"""usmd and usm status, as TAP.

Runs the built usmd in the foreground on a private socket and talks to it
with a small client of the protocol written here from lib/proto/proto.h:
fair shares by weight from a config, priority, RECLAIM/RECLAIMED, a client
closing (its frames return), the threshold rule, SIGHUP reloads (a good and
a broken config), a fuzz phase (random bytes, truncated, oversized, wrong
magic and version, out-of-order messages, STOREs naming what is not one
process's keys, a flood of connections) after which a well-behaved client
is still served, the purge a client's end without BYE starts (in a child:
its one log line), another uid refused, config errors, and a clean SIGTERM
(no sanitizer report on stderr).

usage: usmd.py USMD USM"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile

import taplib
from taplib import tap  # next to this script
import time

USMD, USM = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="usmd-test.")
os.chmod(TMP, 0o755)  # another uid must reach the socket to be refused by usmd
SOCK = os.path.join(TMP, "usmd.sock")
LOG = os.path.join(TMP, "usmd.log")
CONF = os.path.join(TMP, "usmd.conf")
WAIT = 30  # seconds: only to end a hang, never a measurement
M = 1 << 20
# ---- the protocol: usmproto.py ----

from usmproto import (AMOUNT_S, BYE, CLIENT, COLD, ERROR, GRANT, HEADER, HELLO, HELLO_S, HINT,
                      HINT_S, LEASE, MAGIC, MONITOR, PIN, RECLAIM, RECLAIMED, RELEASE,
                      SET_LIMIT, SET_POLICY, SET_POLICY_BIT, SET_POLICY_S, SET_STORE, STATS,
                      STATUS, STATUS_REQ, STORE, STORE_S, VERSION, WELCOME, cstr)
import usmproto


class Conn(usmproto.Conn):
    def __init__(self, path=SOCK):
        super().__init__(path, WAIT)


def status_json():
    r = subprocess.run([USM, "status", "--socket", SOCK, "--json"], capture_output=True,
                       text=True, timeout=WAIT)
    if r.returncode != 0:
        raise AssertionError(f"usm status exited {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def rows():
    return {p["name"]: p for p in status_json()["processes"]}


def wait_for(cond, what):
    """Polls cond() until it holds (or WAIT passes: then a failure)."""
    deadline = time.monotonic() + WAIT
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return True
        except (OSError, AssertionError, ValueError, KeyError) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


def check(name, fn):
    try:
        r = fn()
        return tap(r is None or bool(r), name, "" if r is None or r else f"got {r!r}")
    except Exception as e:  # a failed check must not end the others
        return tap(False, name, f"{type(e).__name__}: {e}")


def start_usmd(extra, sock=SOCK, log=LOG):
    f = open(log, "ab")
    p = subprocess.Popen([USMD, "--foreground", "--socket", sock] + extra, stdout=f, stderr=f)
    f.close()

    def up():
        if p.poll() is not None:
            raise AssertionError(f"usmd exited {p.returncode}: {open(log).read()}")
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            c.connect(sock)
            return True
        except OSError:
            return False
        finally:
            c.close()
    wait_for(up, "usmd to listen")
    return p


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


# ---- the command line ----

def cli():
    r = subprocess.run([USMD, "--help"], capture_output=True, text=True)
    tap(r.returncode == 0 and r.stdout.startswith("usage: usmd --pool SIZE"),
        "usmd --help exits 0 with the usage", r.stdout + r.stderr)
    for opt in ("--pool", "--socket", "--config", "--foreground", "--help", "--version"):
        tap(opt in r.stdout, f"usmd --help documents {opt}")
    r = subprocess.run([USMD, "--version"], capture_output=True, text=True)
    tap(r.returncode == 0 and r.stdout.startswith("usmd "), "usmd --version", r.stdout)
    for args, what in (([], "no pool size"), (["--pool", "12X"], "a bad size"),
                       (["--pool", "1M", "--bogus"], "an unknown option"),
                       (["--pool"], "a missing value"), (["--pool", "1M", "extra"],
                                                         "an extra argument")):
        r = subprocess.run([USMD, "--socket", os.path.join(TMP, "never.sock")] + args,
                           capture_output=True, text=True, timeout=WAIT)
        tap(r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("usmd: "),
            f"usmd with {what}: one line, exit 2", f"{r.returncode}: {r.stderr}")
    tap(not os.path.exists(os.path.join(TMP, "never.sock")), "nothing listens after them")
    r = subprocess.run([USM, "status", "--help"], capture_output=True, text=True)
    tap(r.returncode == 0 and r.stdout.startswith("usage: usm status"), "usm status --help")
    r = subprocess.run([USM, "status", "--socket", os.path.join(TMP, "none.sock")],
                       capture_output=True, text=True, timeout=WAIT)
    tap(r.returncode == 1 and r.stderr == f"usm: status: no usmd at {TMP}/none.sock "
        "(start it with 'usmd --pool SIZE')\n", "usm status without usmd: one line, exit 1",
        r.stderr)
    r = subprocess.run([USM, "status", "--watch", "0"], capture_output=True, text=True)
    tap(r.returncode == 2, "usm status --watch 0 is a usage error", r.stderr)


# ---- config errors ----

BAD_CONFIGS = [
    ("[pool]\nsize = 1M\nbogus = 3\n", 3, "unknown key 'bogus' in [pool]"),
    ("[pool]\nsize = 1M\n[process x]\nweight = 0\n", 4, "weight = '0'"),
    ("[pool]\nsize = 1M\n[process x]\nweight = heavy\n", 4, "weight = 'heavy'"),
    ("[pool]\npolicy = random\n", 2, "policy = 'random'"),
    ("[pool]\nsize = lots\n", 2, "size = 'lots'"),
    ("; ok\n[pool]\nsize = 1M\n\n[frobs]\n", 5, "unknown section [frobs]"),
    ("[pool]\nsize = 1M\n[process a]\n[process a]\n", 4, "[process a] given twice"),
    ("[pool]\n[pool]\n", 2, "[pool] given twice"),
    ("weight = 1\n", 1, "outside any section"),
    ("[process averyveryverylongname]\n", 1, "longer than 15"),
    ("[process a]\npolicy = lru\n", 2, "policy = 'lru'"),
    ("[process a]\nstore = tape\n", 2, "store = 'tape'"),
    ("[process a]\nlimit = 12 M\n", 2, "limit = '12 M'"),
    ("[process a]\npriority = 101\n", 2, "priority = '101'"),
    ("[process a]\nswitch_above = 120\nswitch_policy = fifo\n", 2, "switch_above = '120'"),
    ("[pool]\nsize = 1M\n[process a]\nswitch_above = 80\n", 3, "switch_above needs switch_policy"),
    ("[process a]\nweight = 2\nweight = 3\n", 3, "'weight' given twice"),
    ("[pool]\nsize = 1M\nthis is not ini\n", 3, "syntax error"),
]


def config_errors():
    sock = os.path.join(TMP, "bad.sock")
    for i, (text, line, what) in enumerate(BAD_CONFIGS):
        path = os.path.join(TMP, f"bad{i}.conf")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([USMD, "--foreground", "--pool", "4M", "--socket", sock,
                            "--config", path], capture_output=True, text=True, timeout=WAIT)
        want = f"usmd: {path}:{line}: "
        tap(r.returncode == 1 and r.stderr.startswith(want) and what in r.stderr
            and r.stderr.count("\n") == 1 and not os.path.exists(sock),
            f"config error '{what}' reported at line {line}, usmd does not start",
            f"exit {r.returncode}: {r.stderr}")
    r = subprocess.run([USMD, "--foreground", "--socket", sock, "--config",
                        os.path.join(TMP, "missing.conf")], capture_output=True, text=True,
                       timeout=WAIT)
    tap(r.returncode == 1 and "missing.conf: No such file" in r.stderr,
        "a missing config file is reported", r.stderr)


# ---- sharing the pool ----

CONFIG_FAIR = """\
; the test's config
[pool]
size = 64M           ; --pool wins
policy = fair

[process wa]
weight = 1
[process wb]
weight = 3

[process capped]
limit = 8M
policy = fifo
store = mem:zstd
switch_above = 50%
switch_policy = clock
"""

CONFIG_PRIORITY = """\
[pool]
policy = priority
[process lo]
priority = -5
[process hi]
priority = 5
"""

CONFIG_FAIR2 = """\
[pool]
policy = fair
[process wb]
weight = 1
[process hi]
weight = 1
[process lo]
weight = 2
"""


def write_config(text):
    tmp = CONF + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, CONF)


def sharing(usmd):
    st = status_json()
    tap(st["pool"]["size"] == 100 * M and st["pool"]["policy"] == "fair"
        and st["processes"] == [] and st["pool"]["free"] == 100 * M,
        "an empty pool of 100M (--pool wins over the config's size), policy fair", st)

    a, b = Conn(), Conn()
    w = a.hello("wa")
    tap(w["grant"] == 100 * M and w["interval"] == 250 and w["policy"] == "" and w["store"] == "",
        "the first client is granted the free pool", w)
    w = b.hello("wb")
    tap(w["grant"] == M, "the second gets its min_grant at once", w)
    check("the first is asked to give that back (RECLAIM)", lambda: a.answer_reclaim() == M)
    b.amount(LEASE, 90 * M)
    check("fair: asked beyond its share, wb's lease reclaims the excess of wa",
          lambda: a.answer_reclaim() == 74 * M)
    check("wb's lease is granted once wa gave its frames back (GRANT 74M, total 75M)",
          lambda: b.expect_amount(GRANT) == (74 * M, 75 * M))
    r = rows()
    tap(r["wa"]["grant"] == 25 * M and r["wb"]["grant"] == 75 * M
        and r["wa"]["weight"] == 1 and r["wb"]["weight"] == 3,
        "fair shares follow the weights 1:3 (25M and 75M)", r)

    a.amount(LEASE, 10 * M)
    check("wa at its share gets GRANT 0 from a full pool",
          lambda: a.expect_amount(GRANT) == (0, 25 * M))

    a.close()
    check("a client that closes returns its frames (usm status)",
          lambda: wait_for(lambda: status_json()["pool"]["granted"] == 75 * M
                           and list(rows()) == ["wb"], "wa's frames to return"))
    b.amount(LEASE, 30 * M)
    check("the freed frames go to the next lease", lambda: b.expect_amount(GRANT) == (25 * M, 100 * M))

    # the config's per-process settings, and what usm run's options override
    c = Conn()
    w = c.hello("capped", policy="clock")
    tap(w["limit"] == 8 * M and w["policy"] == "fifo" and w["store"] == "mem:zstd"
        and w["grant"] == M, "WELCOME carries the config's limit, policy and store", w)
    check("its min_grant came from wb", lambda: b.answer_reclaim() == M)
    d = Conn()
    w = d.hello("capped", limit=16 * M, set_by_user=SET_LIMIT | SET_POLICY_BIT | SET_STORE)
    tap(w["policy"] == "" and w["store"] == "", "usm run's own --policy and --store win", w)
    check("usm run's own --limit wins over the config's", lambda: b.answer_reclaim() == M)
    lims = sorted(p["limit"] for p in status_json()["processes"] if p["name"] == "capped")
    tap(lims == [8 * M, 16 * M], "status shows each client's cap", lims)
    d.send(BYE)
    check("BYE returns its grant", lambda: wait_for(
        lambda: len(status_json()["processes"]) == 2, "the BYE"))
    d.close()

    # the threshold rule: capped switches to clock above 50% resident
    c.stats(60 * M, policy="fifo")
    check("above switch_above, SET_POLICY to switch_policy",
          lambda: cstr(SET_POLICY_S.unpack(c.expect(SET_POLICY))[0]) == "clock")
    c.stats(10 * M, policy="clock")
    check("below it again, SET_POLICY back to its own",
          lambda: cstr(SET_POLICY_S.unpack(c.expect(SET_POLICY))[0]) == "fifo")
    c.stats(10 * M, policy="fifo")
    check("status shows the reported resident and policy", lambda: wait_for(
        lambda: rows()["capped"]["resident"] == 10 * M and rows()["capped"]["policy"] == "fifo"
        and rows()["capped"]["first_touch"] == 1, "the STATS"))
    c.send(HINT, HINT_S.pack(PIN, 0, 3 * M))
    c.send(HINT, HINT_S.pack(COLD, 0, 12345))
    c.close()
    check("the frames of the clients gone are free", lambda: wait_for(
        lambda: list(rows()) == ["wb"] and status_json()["pool"]["free"] == 2 * M, "them"))
    b.amount(LEASE, 2 * M)
    check("and wb takes them", lambda: b.expect_amount(GRANT) == (2 * M, 100 * M))

    # priority, by a reloaded config
    write_config(CONFIG_PRIORITY)
    usmd.send_signal(signal.SIGHUP)
    check("SIGHUP reloads the config (policy priority)", lambda: wait_for(
        lambda: status_json()["pool"]["policy"] == "priority", "the reload"))
    lo, hi = Conn(), Conn()
    lo.hello("lo")
    check("lo's min_grant is taken from wb (the only one above its floor)",
          lambda: b.answer_reclaim() == M)
    hi.hello("hi")
    check("hi's min_grant is taken from a lower priority", lambda: b.answer_reclaim() == M)
    hi.amount(LEASE, 50 * M)
    check("priority: hi's lease reclaims from wb (lower), lo is at its floor",
          lambda: b.answer_reclaim() == 50 * M)
    check("hi is granted 50M", lambda: hi.expect_amount(GRANT) == (50 * M, 51 * M))
    lo.amount(LEASE, 10 * M)
    check("priority: lo cannot take from higher priorities (GRANT 0)",
          lambda: lo.expect_amount(GRANT) == (0, M))
    r = rows()
    tap(r["lo"]["priority"] == -5 and r["hi"]["priority"] == 5 and r["wb"]["priority"] == 0
        and r["wb"]["grant"] == 48 * M, "status shows the priorities and grants", r)

    # a changed weight takes effect at SIGHUP
    write_config(CONFIG_FAIR2)
    usmd.send_signal(signal.SIGHUP)
    check("SIGHUP with a changed weight: status shows it", lambda: wait_for(
        lambda: rows()["lo"]["weight"] == 2 and status_json()["pool"]["policy"] == "fair",
        "the reload"))
    lo.amount(LEASE, 20 * M)
    check("the new weights decide: lo (weight 2) takes from hi, the largest excess",
          lambda: hi.answer_reclaim() == 20 * M)
    check("lo is granted", lambda: lo.expect_amount(GRANT) == (20 * M, 21 * M))

    # a broken config at SIGHUP: the old one stays
    with open(CONF, "a") as f:
        f.write("[process other]\nweight = 2000\n")
    usmd.send_signal(signal.SIGHUP)
    check("a broken config at SIGHUP is reported as FILE:LINE", lambda: wait_for(
        lambda: f"usmd: {CONF}:10: weight = '2000'" in read(LOG), "the error in the log"))
    st = rows()
    tap(st["lo"]["weight"] == 2 and status_json()["pool"]["policy"] == "fair",
        "and the config loaded before stays in force", st)
    return [b, lo, hi]


# ---- usm status ----

def status_command():
    r = subprocess.run([USM, "status", "--socket", SOCK], capture_output=True, text=True,
                       timeout=WAIT)
    lines = r.stdout.splitlines()
    tap(r.returncode == 0 and lines[0].startswith("pool 100.0M (fair): granted 100.0M")
        and "3 processes" in lines[0], "usm status: the pool's line", r.stdout + r.stderr)
    tap(len(lines) == 6 and lines[2].split()[:4] == ["PID", "NAME", "W", "PRI"]
        and "SHARE/LIMIT" in lines[2] and "P50/P99" in lines[2],
        "usm status: a header and a row per process", r.stdout)
    j = status_json()
    table = {l.split()[1]: l.split() for l in lines[3:]}
    ok = all(table[p["name"]][0] == str(p["pid"]) and table[p["name"]][2] == str(p["weight"])
             for p in j["processes"])
    tap(ok and set(table) == {"wb", "lo", "hi"}, "the table and --json agree", r.stdout)
    tap(table["wb"][4] == "48.0M/none", "share/limit in the table", table["wb"])
    p = subprocess.Popen([USM, "status", "--socket", SOCK, "--json", "--watch", "0.1"],
                         stdout=subprocess.PIPE, text=True)
    docs = [json.loads(p.stdout.readline()) for _ in range(3)]
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=WAIT)
    tap(rc == 0 and all(d["pool"]["size"] == 100 * M for d in docs),
        "--watch --json: one document per line, until SIGINT (exit 0)", rc)


# ---- fuzz ----

def fuzz(good):
    rnd = random.Random(5)
    partial = Conn()
    partial.hello("partial", min_grant=0)
    partial.raw(HEADER.pack(MAGIC, VERSION, LEASE, AMOUNT_S.size, 1)[:7])

    def bad(name, setup, want_code=None, want_text=None):
        c = Conn()
        try:
            setup(c)
            e = c.error()
        except OSError as ex:
            e = ex
        c.close()
        tap(isinstance(e, tuple) and (want_code is None or e[0] == want_code)
            and (want_text is None or want_text in e[1]), f"fuzz: {name} gets an ERROR", e)

    def random_bytes(c, k):
        c.raw(bytes(rnd.getrandbits(8) for _ in range(k)))
        c.s.shutdown(socket.SHUT_WR)

    for k in (1, 7, 16, 100, 4000):
        bad(f"{k} random bytes", lambda c, k=k: random_bytes(c, k))
    hello = HELLO_S.pack(1, CLIENT, b"x", 0, 0, 0, 0, 0, b"")

    def truncated(c):
        c.raw(HEADER.pack(MAGIC, VERSION, HELLO, len(hello), 1) + hello[:20])
        c.s.shutdown(socket.SHUT_WR)
    bad("a truncated HELLO, then end of stream", truncated, 71, "middle of a message")
    bad("an oversized length", lambda c: c.send(LEASE, b"", length=1 << 30), 90)
    bad("a wrong magic", lambda c: c.send(HELLO, hello, magic=0xDEADBEEF), 71, "magic")
    bad("a newer protocol version", lambda c: c.send(HELLO, hello, version=VERSION + 1), 93,
        f"version {VERSION + 1} is not supported (this usmd speaks version {VERSION})")
    bad("the version before STORE (2)", lambda c: c.send(HELLO, hello, version=2), 93,
        f"version 2 is not supported (this usmd speaks version {VERSION})")
    bad("an unknown type", lambda c: c.send(99), 74, "unknown message type 99")
    bad("a payload of the wrong size", lambda c: c.send(HELLO, hello + b"x"), 90)
    bad("a malformed HELLO (role 7)", lambda c: c.send(
        HELLO, HELLO_S.pack(1, 7, b"x", 0, 0, 0, 0, 0, b"")), 74, "malformed HELLO")
    bad("LEASE before HELLO", lambda c: c.amount(LEASE, M), 71, "before HELLO")

    def after_hello(*msgs):
        def setup(c):
            c.hello("fuzzy", min_grant=0)
            for m in msgs:
                c.send(*m)
        return setup
    bad("RECLAIMED without a RECLAIM", after_hello((RECLAIMED, AMOUNT_S.pack(M, 0))), 71,
        "without a RECLAIM")
    bad("a second HELLO", after_hello((HELLO, hello)), 71, "second HELLO")
    bad("a GRANT sent to usmd", after_hello((GRANT, AMOUNT_S.pack(M, M))), 71, "usmd's message")
    bad("STATUS_REQ from a client", after_hello((STATUS_REQ, b"")), 71)
    bad("a RELEASE of more than the grant", after_hello((RELEASE, AMOUNT_S.pack(1 << 40, 0))),
        22, "more than its grant")
    bad("an unaligned LEASE", after_hello((LEASE, AMOUNT_S.pack(100, 0))), 74)

    def monitor_lease(c):
        c.monitor()
        c.amount(LEASE, M)
    bad("a LEASE from a monitor", monitor_lease, 71, "from a monitor")

    # STORE: what usmd may be made to delete is one process's keys, of usm's naming
    me = f"usm:box:run1:{os.getpid()}.ab12:"
    mc = "memcached:127.0.0.1:1"
    store = STORE_S.pack(mc.encode(), me.encode())
    bad("STORE before HELLO", lambda c: c.send(STORE, store), 71, "before HELLO")

    def monitor_store(c):
        c.monitor()
        c.send(STORE, store)
    bad("a STORE from a monitor", monitor_store, 71, "from a monitor")
    bad("a STORE of the wrong size", after_hello((STORE, store[:-1])), 90)
    for prefix, what in (("evil:box:run1:1.ab:", "a prefix not starting with usm:"),
                         ("usm:box:run 1:1.ab:", "a space in the prefix"),
                         ("usm:box\r\ndelete x", "CR LF in the prefix"),
                         ("usm:box:r%3A:1.ab:", "a % in the prefix")):
        bad(f"STORE with {what}", after_hello((STORE, STORE_S.pack(mc.encode(),
                                                                   prefix.encode()))),
            74, "malformed STORE")
    bad("STORE with an unterminated prefix", after_hello((STORE, mc.encode().ljust(4096, b"\0")
                                                          + b"usm:" + b"a" * 124)),
        74, "malformed STORE")
    bad("STORE of a store that is not memcached", after_hello(
        (STORE, STORE_S.pack(b"file:/tmp/x", me.encode()))), 74, "malformed STORE")
    bad("STORE with a control character in the spec", after_hello(
        (STORE, STORE_S.pack(b"memcached:a:1\n", me.encode()))), 74, "malformed STORE")
    for prefix, what in (("usm:", "usm: alone (every run's keys)"),
                         ("usm:box:run1:", "a run's prefix (its every process)"),
                         (f"usm:box:run1:{os.getpid()}.ab12:x", "more after the prefix")):
        bad(f"STORE naming {what}", after_hello((STORE, STORE_S.pack(mc.encode(),
                                                                     prefix.encode()))),
            22, "is not one process's")
    bad("STORE naming another process's keys", after_hello(
        (STORE, STORE_S.pack(mc.encode(), f"usm:box:run1:{os.getpid() + 1}.ab12:".encode()))),
        22, f"keys of pid {os.getpid() + 1}, not this client's ({os.getpid()})")
    bad("STORE with a bad memcached spec", after_hello(
        (STORE, STORE_S.pack(b"memcached:host", me.encode()))), 22, "not HOST:PORT")
    bad("a second STORE", after_hello((STORE, store), (STORE, store)), 71, "second STORE")

    # a flood: past 256 connections, each is refused at once; those taken
    # hear nothing and are dropped for want of a HELLO
    flood = [Conn() for _ in range(300)]
    errors = [c.error() for c in flood]
    busy = sum(1 for e in errors if e and e[0] == 16)
    idle = sum(1 for e in errors if e and e[0] == 110 and "no HELLO" in e[1])
    tap(busy + idle == 300 and busy >= 300 - 256, "fuzz: a flood of 300 connections: each "
        f"gets an ERROR ({busy} busy, {idle} without HELLO)", errors[:3] + errors[-3:])
    for c in flood:
        c.close()
    e = partial.error()
    tap(e is not None and e[0] == 110 and "not finished" in e[1],
        "fuzz: a partial message and then nothing is dropped", e)
    partial.close()

    # a monitor that asks and never reads is dropped, not waited for
    m = Conn()
    m.monitor()
    asked = 0
    try:
        for _ in range(200):
            m.raw(HEADER.pack(MAGIC, VERSION, STATUS_REQ, 0, 0) * 100)
            asked += 100
    except OSError:
        pass
    replies = 0
    while (msg := m.recv()) is not None and msg[0] == STATUS:
        replies += 1
    m.close()
    tap(replies < asked and "does not read what usmd sends" in read(LOG),
        f"fuzz: a peer that does not read is dropped ({replies} of {asked} answered)")

    # still serving the well-behaved
    b = good[0]
    b.amount(RELEASE, M)
    b.amount(LEASE, M)
    check("after the fuzz, a well-behaved client is still served",
          lambda: b.expect_amount(GRANT) == (M, 48 * M))
    check("and usm status still answers", lambda: set(rows()) == {"wb", "lo", "hi"})


# ---- a client's end and its store's keys ----

def purges():
    """No memcached here: a server that refuses (port 1) makes each purge
    end in its one error line, which says that usmd started it, and when."""
    mc = "memcached:127.0.0.1:1"

    def client(pid, bye):
        c = Conn()
        c.hello("purged", min_grant=0, pid=pid)
        c.store(mc, f"usm:box:run1:{pid}.ab12:")
        c.sync()
        if bye:
            c.send(BYE)
            c.recv()  # usmd closes after a BYE
        c.close()
    client(424241, bye=True)
    client(424242, bye=False)
    want = "424242 (purged): ended without BYE: cannot delete its keys usm:box:run1:424242.ab12:*"
    check("a client gone without BYE: usmd deletes its keys in a child and logs the result "
          "in one line", lambda: wait_for(
              lambda: sum(1 for l in read(LOG).splitlines() if want in l
                          and "127.0.0.1:1 does not answer" in l) == 1, "the purge's line"))
    log = read(LOG)
    # the start of a purge is logged when its client's connection closes
    tap("424242 (purged): deleting its keys" in log
        and "424241 (purged): deleting its keys" not in log,
        "a client that said BYE: no purge (its keys stay for usm run)")
    tap(f"deleting its keys usm:box:run1:{os.getpid()}." not in log,
        "a client usmd dropped (its second STORE): no purge (it may live on)")
    c = Conn()
    c.hello("after", min_grant=0)
    check("and usmd serves a client after the purge", lambda: c.sync() == (0, 0))
    c.close()


# ---- another uid ----

def other_uid():
    if os.geteuid() != 0:
        print("ok - another uid is refused # SKIP not root")
        return
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgid(65534)
            os.setuid(65534)
            c = Conn()
            e = c.error()
            os.write(w, json.dumps(e).encode())
        except BaseException as ex:
            os.write(w, json.dumps(str(ex)).encode())
        os._exit(0)
    os.close(w)
    got = b""
    while chunk := os.read(r, 4096):
        got += chunk
    os.close(r)
    os.waitpid(pid, 0)
    e = json.loads(got or b"null")
    tap(isinstance(e, list) and e[0] == 13 and e[1] == "uid 65534 may not join the pool of uid 0",
        "a client of another uid is refused (EACCES)", e)

    def nobody():
        os.setgid(65534)
        os.setuid(65534)
    r = subprocess.run([USM, "status", "--socket", SOCK], capture_output=True, text=True,
                       timeout=WAIT, preexec_fn=nobody)
    tap(r.returncode == 1 and r.stderr == f"usm: status: usmd at {SOCK}: uid 65534 may not "
        "join the pool of uid 0\n", "usm status of another uid says why it is refused",
        r.stderr)


def stale_and_busy_socket():
    sock = os.path.join(TMP, "sub", "dir", "stale.sock")
    os.makedirs(os.path.dirname(sock))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.close()  # a socket file nobody answers on
    p = start_usmd(["--pool", "8M"], sock=sock, log=os.path.join(TMP, "stale.log"))
    tap(True, "a stale socket file is replaced")
    r = subprocess.run([USMD, "--foreground", "--pool", "8M", "--socket", sock],
                       capture_output=True, text=True, timeout=WAIT)
    tap(r.returncode == 1 and r.stderr == f"usmd: another usmd is serving {sock}\n",
        "a second usmd on a live socket is refused", r.stderr)
    p.terminate()
    p.wait(timeout=WAIT)
    sock = os.path.join(TMP, "fresh", "usmd.sock")
    p = start_usmd(["--pool", "8M"], sock=sock, log=os.path.join(TMP, "fresh.log"))
    tap(oct(os.stat(os.path.dirname(sock)).st_mode & 0o777) == "0o755"
        and oct(os.stat(sock).st_mode & 0o777) == "0o666",
        "the socket's directory is created 0755, the socket is 0666")
    p.terminate()
    p.wait(timeout=WAIT)


def daemon_mode():
    sock = os.path.join(TMP, "daemon.sock")
    r = subprocess.run([USMD, "--pool", "8M", "--socket", sock], capture_output=True,
                       timeout=WAIT)
    tap(r.returncode == 0 and os.path.exists(sock), "without --foreground usmd detaches",
        r.stderr)
    pids = []  # SO_PEERCRED would name the parent, which listened and left
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and sock.encode() in open(f"/proc/{d}/cmdline", "rb").read():
                pids.append(int(d))
        except OSError:
            pass
    tap(len(pids) == 1, "one detached usmd runs", pids)
    r = subprocess.run([USM, "status", "--socket", sock], capture_output=True, text=True,
                       timeout=WAIT)
    tap(r.returncode == 0 and r.stdout.startswith("pool 8.0M"), "the detached usmd serves",
        r.stdout + r.stderr)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    check("SIGTERM ends it and removes its socket",
          lambda: wait_for(lambda: not os.path.exists(sock), "the socket to go"))


def main():
    cli()
    config_errors()
    write_config(CONFIG_FAIR)
    usmd = start_usmd(["--pool", "100M", "--config", CONF])
    good = []
    try:
        good = sharing(usmd)
        status_command()
        fuzz(good)
        purges()
        other_uid()
    except Exception as e:
        tap(False, "the shared-pool checks ran to the end", f"{type(e).__name__}: {e}")
    for c in good:
        c.close()
    usmd.send_signal(signal.SIGTERM)
    try:
        rc = usmd.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        usmd.kill()
        rc = "hung"
    log = read(LOG)
    tap(rc == 0, "SIGTERM: usmd exits 0", f"exit {rc}\n" + log[-3000:])
    tap(not os.path.exists(SOCK), "SIGTERM: the socket file is removed")
    tap("Sanitizer" not in log and "runtime error" not in log,
        "no sanitizer report (leaks included) on usmd's stderr", log[-3000:])
    tap(log.count("\n") > 10 and all(l.startswith("usmd: ") for l in log.splitlines()),
        "--foreground logs one line per event", log[:2000])
    stale_and_busy_socket()
    daemon_mode()
    if taplib.failed == 0:
        subprocess.run(["rm", "-rf", TMP])
    else:
        print(f"# kept {TMP}")
    return taplib.done()


if __name__ == "__main__":
    sys.exit(main())
