#!/usr/bin/env python3
"""usmd deletes the keys a memcached client leaves when it ends without BYE,
as TAP (docs/usmd.md, "Shared stores"; docs/run.md, "Cleanup").

Three `memcached -M` servers and the usmd built here (under ASan in make
check) on a private socket:

1. The protocol alone: a client of this test's own says HELLO and STORE,
   keys are set on every server under its prefix and under others (another
   process of its run, a pid that starts with its digits, an earlier
   process of its pid, another run, a key not of usm's); the client closes
   without BYE: every key of its prefix goes, on every server, and no
   other, and usmd says how many in one line. A client that says BYE keeps
   its keys; one that names a prefix not of usm's (evil:...) or another
   pid's is refused with an ERROR, and its close deletes nothing.
2. usmd is never held by a purge: with a server that accepts and does not
   answer (this test's own, released when it says so), the purge waits in
   its child while usmd serves another client and usm status; a server
   that never accepts (its backlog full) costs the purge the spec's
   timeout, and usmd says so in one line.
3. A program under `usm run --store memcached:...` joined to usmd: once its
   pages are on the servers, SIGKILL to its usm run and to it: usmd deletes
   every key of the run on every server.
4. The store of usmd's config (usm run knows nothing of it): a program runs
   to the end with the right output, and usmd deletes its keys when it
   ends; usmd is still healthy after all of it.

usage: usmd_purge.py USM USMD"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import taplib
from mcserver import STARTED, Server, free_port, spec
from taplib import tap
from usmproto import BYE, ERROR_S, LEASE, STORE, STORE_S, Conn, cstr
from workloads import TWO_PHASE, TWO_PHASE_LIMIT

USM, USMD = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="usmd-purge-test.")
SOCK = os.path.join(TMP, "usmd.sock")
LOG = os.path.join(TMP, "usmd.log")
CONF = os.path.join(TMP, "usmd.conf")
ENV = dict(os.environ, LC_ALL="C", USM_SOCKET=SOCK)
for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "MALLOC_PERTURB_"):
    ENV.pop(k, None)  # the programs are not ours; usmd keeps them
WAIT = 120  # seconds: only to end a hang, never a measurement
PROG = os.path.join(TMP, "two_phase.py")
# the config's [process] section: the program's name as /proc/PID/comm
COMM = os.path.basename(sys.executable)[:15]


def read_log():
    with open(LOG, errors="replace") as f:
        return f.read()


def wait_for(pred, timeout=WAIT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def log_lines(text):
    return [l for l in read_log().splitlines() if text in l]


def status():
    r = subprocess.run([USM, "status", "--json", "--socket", SOCK], capture_output=True,
                       timeout=60)
    return json.loads(r.stdout) if r.returncode == 0 else None


def start_usmd(servers):
    with open(CONF, "w") as f:
        f.write(f"[process {COMM}]\nstore = {spec(servers)}\n")
    log = open(LOG, "ab")
    d = subprocess.Popen([USMD, "--foreground", "--pool", "512M", "--socket", SOCK,
                          "--config", CONF], stdout=log, stderr=log)
    wait_for(lambda: d.poll() is not None or (os.path.exists(SOCK) and status()), 60)
    return d


def fake_client(pid, mc, prefix, bye=False):
    """HELLO and STORE as a tagger says them; then BYE or a bare close. The
    ERROR usmd answered, if any."""
    c = Conn(SOCK)
    c.hello("fake", min_grant=0, pid=pid)
    c.send(STORE, STORE_S.pack(mc.encode(), prefix.encode()))
    if bye:
        c.send(BYE)
    try:
        c.amount(LEASE, 0)  # a LEASE of nothing: its GRANT says usmd read all before it
    except OSError:
        pass  # closed already, after an ERROR
    m = c.recv()
    err = None
    if m and len(m[1]) == ERROR_S.size:
        err = (ERROR_S.unpack(m[1])[0], cstr(ERROR_S.unpack(m[1])[1]))
    if bye or err:
        while c.recv() is not None:  # usmd closes: its decision is made
            pass
    c.close()
    return err


def protocol(servers):
    mc = spec(servers)
    pid = 777001
    mine = f"usm:box:runA:{pid}.abc:"
    others = [f"usm:box:runA:{pid + 1}.abc:1:1", f"usm:box:runA:{pid}1.abc:1:1",
              f"usm:box:runA:{pid}.abd:1:1", f"usm:box:runB:{pid}.abc:1:1", "evil:x"]
    for s in servers:
        for i in range(5):
            s.set(f"{mine}{i:x}:1")
        for k in others:
            s.set(k)
    tap(all(len(s.keys(mine)) == 5 for s in servers), "the client's 5 keys are on every server")
    tap(fake_client(pid, mc, mine) is None, "a client with a STORE of its own prefix is served")
    gone = wait_for(lambda: not any(s.keys(mine) for s in servers))
    tap(gone, "it closed without BYE: usmd deleted every key of its prefix on every server",
        [s.keys(mine) for s in servers])
    tap(all(sorted(s.keys()) == sorted(others) for s in servers),
        "and no other key: not another process's of its run, nor a pid that starts with its "
        "digits, nor an earlier process of its pid, nor another run's, nor one not of usm's",
        [s.keys() for s in servers])
    lines = wait_for(lambda: log_lines(f"{pid} (fake): ended without BYE: deleted its"))
    tap(len(lines) == 1 and "deleted its 15 keys" in lines[0] and mine in lines[0],
        "usmd says how many in one line", lines or read_log()[-2000:])

    kept = f"usm:box:runA:{pid + 2}.abc:"
    for s in servers:
        s.set(kept + "1:1")
    tap(fake_client(pid + 2, mc, kept, bye=True) is None
        and not log_lines(f"{pid + 2} (fake): deleting")
        and all(s.keys(kept) for s in servers),
        "a client that said BYE keeps its keys (usm run deletes them)")

    for what, prefix, code in (("a prefix not of usm's", "evil:", 74),
                               ("another pid's prefix", f"usm:box:runA:{pid + 3}.abc:", 22),
                               ("a whole run's prefix", "usm:box:runA:", 22)):
        err = fake_client(pid + 4, mc, prefix)
        tap(err is not None and err[0] == code and not log_lines(f"{pid + 4} (fake): deleting"),
            f"a STORE with {what} is refused with an ERROR, and its close deletes nothing", err)
    tap(all(sorted(s.keys()) == sorted(others + [kept + "1:1"]) for s in servers),
        "every other key is still there", [s.keys() for s in servers])


class SilentServer:
    """Accepts and reads; answers a metadump only once released (END: no
    keys), and a version at once."""

    def __init__(self):
        self.release = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.talk, args=(c,), daemon=True).start()

    def talk(self, c):
        buf = b""
        with c:
            while (chunk := c.recv(4096)):
                buf += chunk
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    if line.startswith(b"lru_crawler metadump"):
                        self.release.wait()
                        c.sendall(b"END\r\n")
                    elif line == b"version":
                        c.sendall(b"VERSION 1.6.0\r\n")


def never_held():
    silent = SilentServer()
    pid = 777101
    prefix = f"usm:box:runC:{pid}.abc:"
    fake_client(pid, f"memcached:127.0.0.1:{silent.port},timeout=600000", prefix)
    started = wait_for(lambda: log_lines(f"{pid} (fake): deleting its keys"))
    c = Conn(SOCK)
    w = c.hello("meanwhile", min_grant=0)
    st = status()
    tap(started and w["grant"] > 0 and st is not None and not silent.release.is_set()
        and not log_lines(f"{pid} (fake): ended without BYE"),
        "while a purge waits on a server that does not answer, usmd serves a new client "
        "and usm status", read_log()[-1500:])
    c.close()
    silent.release.set()
    lines = wait_for(lambda: log_lines(f"{pid} (fake): ended without BYE: deleted its 0 keys"))
    tap(len(lines) == 1, "once the server answers, the purge ends and usmd says so",
        read_log()[-1500:])
    silent.sock.close()

    # a listener whose backlog is full drops every SYN: a connect would
    # wait for the kernel's retries (minutes) without the spec's timeout
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    port = full.getsockname()[1]
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    pid += 1
    fake_client(pid, f"memcached:127.0.0.1:{port},timeout=2000", f"usm:box:runC:{pid}.abc:")
    lines = wait_for(lambda: log_lines(f"{pid} (fake): ended without BYE: cannot delete"), 60)
    tap(len(lines) == 1 and f"127.0.0.1:{port} does not answer" in lines[0],
        "a server that never accepts costs the purge its timeout, said in one line",
        read_log()[-1500:])
    for f in fillers + [full]:
        f.close()


def run_of(servers, pid):
    """The prefix of the run whose process pid wrote keys, "usm:HOST:RUN:"."""
    for s in servers:
        for k in s.keys("usm:"):
            if re.match(rf"usm:[^:]+:[^:]+:{pid}\.", k):
                return ":".join(k.split(":")[:3]) + ":"
    return None


def run_keys(servers, run):
    return [k for s in servers for k in s.keys(run)] if run else []


def start_two_phase(args):
    return subprocess.Popen([USM, "run", "-q", "--limit", TWO_PHASE_LIMIT] + args
                            + ["--", sys.executable, PROG], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)


def client_pid():
    st = wait_for(lambda: (lambda s: s if s and any(r["name"] == COMM for r in s["processes"])
                           else None)(status()), 60)
    return [r["pid"] for r in st["processes"] if r["name"] == COMM][0] if st else None


def killed_with_usm_run(servers):
    p = start_two_phase(["--store", spec(servers)])
    ready = p.stdout.readline()
    pid = client_pid()
    run = run_of(servers, pid) if pid else None
    keys = run_keys(servers, run)
    tap(ready == b"ready\n" and pid and len(keys) > 100,
        f"a program under usm run --store memcached joined usmd, its pages on the servers "
        f"({len(keys)} keys)", p.stderr.read1().decode(errors="replace") if p.poll() else "")
    if not pid:
        p.kill()
        return
    os.kill(p.pid, signal.SIGKILL)  # first: it must not live to purge
    os.kill(pid, signal.SIGKILL)
    p.wait()
    gone = wait_for(lambda: not run_keys(servers, run))
    tap(gone, "SIGKILL to it and its usm run: usmd deleted every key of the run on every server",
        run_keys(servers, run)[:5])
    # the keys may all be gone before the purge's last sweep is done
    lines = wait_for(lambda: log_lines(f"{pid} ({COMM}): ended without BYE: deleted its"))
    tap(len(lines) == 1 and int(re.search(r"deleted its (\d+) keys", lines[0]).group(1)) > 0,
        "usmd says how many keys it deleted", read_log()[-1500:])


def config_store(servers):
    want = subprocess.run([sys.executable, PROG], input=b"go\n", capture_output=True,
                          env=ENV).stdout
    p = start_two_phase([])
    first = p.stdout.readline()
    pid = client_pid()
    run = run_of(servers, pid) if pid else None
    keys = run_keys(servers, run)
    out, err = p.communicate(b"go\n", timeout=600)
    tap(p.returncode == 0 and first + out == want and len(keys) > 100,
        f"a program whose store usmd's config chose runs to the end, its pages on the servers "
        f"({len(keys)} keys), output right", err.decode(errors="replace"))
    gone = wait_for(lambda: run and not run_keys(servers, run) and log_lines(
        f"{pid} ({COMM}): ended without BYE: deleted its"))
    tap(gone, "usm run does not know that store: usmd deleted its keys when it ended",
        run_keys(servers, run)[:5] or read_log()[-1500:])


def main():
    if not shutil.which("memcached"):
        taplib.skip("usmd's purge of a gone client's keys",
                    "memcached is not installed (scripts/deps.sh)")
        return taplib.done()
    with open(PROG, "w") as f:
        f.write(TWO_PHASE)
    d = None
    try:
        servers = [Server() for _ in range(3)]
        d = start_usmd(servers)
        tap(d.poll() is None, "usmd serves", read_log())
        protocol(servers)
        never_held()
        killed_with_usm_run(servers)
        config_store(servers)
        st = status()
        c = Conn(SOCK)
        w = c.hello("last", min_grant=0)
        c.close()
        tap(st is not None and w["grant"] > 0, "usmd is still healthy: usm status and a new "
            "client are served")
    finally:
        rc = None
        if d:
            d.send_signal(signal.SIGTERM)
            try:
                rc = d.wait(timeout=60)
            except subprocess.TimeoutExpired:
                d.kill()
        for s in STARTED:
            s.kill()
    log = read_log()
    tap(rc == 0 and "Sanitizer" not in log and "runtime error" not in log,
        "usmd exits 0 on SIGTERM, with no sanitizer report", f"exit {rc}\n" + log[-2000:])
    if taplib.failed == 0:
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print(f"# kept {TMP}")
    return taplib.done()


if __name__ == "__main__":
    sys.exit(main())
