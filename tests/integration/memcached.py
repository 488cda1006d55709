#!/usr/bin/env python3
"""usm run with its pages on a memcached cluster (--store memcached:), as TAP.

Three `memcached -M` servers are started on free loopback ports and
killed at the end. A shared workload under a tight limit gives the same
output as natively. A two-phase program (it fills memory, prints "ready",
waits for a line on stdin, then reads everything back) lets a server be
killed, restarted or flushed exactly between its pages leaving and coming
back, with no timing: with --replicas 1 the output does not change; without
replicas the program is stopped with one line naming the page and the
server. A server that evicts is refused up front. After every run no key
of the run is left on any server: each process deletes its own at exit,
and usm run purges what a process killed with SIGKILL left. `usm store
check` reports a dead address in one line with a non-zero exit.

usage: memcached.py USM"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import taplib
from mcserver import STARTED, Server, ask, free_port, spec
from taplib import tap
from workloads import PYTHON_WORK, TWO_PHASE, TWO_PHASE_LIMIT

USM = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="usm-memcached-test.")
ENV = dict(os.environ, LC_ALL="C")
for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "MALLOC_PERTURB_"):
    ENV.pop(k, None)


# fills memory, then dies without its exit path
KILLED = """
import os, signal
data = [bytes([i % 251]) * 4000 + str(i).encode() for i in range(12000)]
print("filled", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

# the same, with a stop halfway through the reading
THREE_PHASE = """
import hashlib, sys
data = [bytes([i % 251]) * 4000 + str(i).encode() for i in range(12000)]
print("ready", flush=True)
sys.stdin.readline()
h = hashlib.sha256()
for d in data[:6000]:
    h.update(d)
print("half", flush=True)
sys.stdin.readline()
for d in data[6000:]:
    h.update(d)
print(len(data), h.hexdigest(), flush=True)
"""


def run_usm(args, argv, stdin=None, timeout=900):
    return subprocess.run([USM, "run", "-q"] + args + ["--"] + argv, input=stdin,
                          capture_output=True, env=ENV, timeout=timeout)


def no_keys_left(servers, what):
    left = []
    for s in servers:
        if s.proc.poll() is None:
            left += s.usm_keys()
    tap(not left, f"{what}: no key of the run is left on any server",
        f"{len(left)} keys, e.g. {left[:3]}")


def two_phase(args, servers, between):
    """Runs TWO_PHASE under usm run; between() runs once it is ready."""
    prog = os.path.join(TMP, "two_phase.py")
    with open(prog, "w") as f:
        f.write(TWO_PHASE)
    p = subprocess.Popen([USM, "run", "-q", "--limit", TWO_PHASE_LIMIT, "--store", spec(servers)]
                         + args + ["--", sys.executable, prog],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=ENV)
    first = p.stdout.readline()
    between()
    try:
        out, err = p.communicate(b"go\n", timeout=600)
    except BrokenPipeError:
        out, err = p.communicate(timeout=600)
    return p.returncode, first + out, err.decode(errors="replace")


def three_phase(args, servers, first, second):
    """THREE_PHASE under usm run: first() once it is ready, second() halfway."""
    prog = os.path.join(TMP, "three_phase.py")
    with open(prog, "w") as f:
        f.write(THREE_PHASE)
    p = subprocess.Popen([USM, "run", "-q", "--limit", TWO_PHASE_LIMIT, "--store", spec(servers)]
                         + args + ["--", sys.executable, prog],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=ENV)
    lines = [p.stdout.readline()]
    first()
    p.stdin.write(b"go\n")
    p.stdin.flush()
    lines.append(p.stdout.readline())
    second()
    out, err = p.communicate(b"go\n", timeout=600)
    return p.returncode, b"".join(lines) + out, err.decode(errors="replace")


def native_two_phase():
    prog = os.path.join(TMP, "two_phase.py")
    with open(prog, "w") as f:
        f.write(TWO_PHASE)
    r = subprocess.run([sys.executable, prog], input=b"go\n", capture_output=True, env=ENV)
    return r.stdout


# A lost page ends the program: as a SIGBUS where the kernel has
# UFFDIO_POISON (the pager's line says so), else stopped by usm (exit 125).
POISON = json.loads(subprocess.run([USM, "features", "--json"], capture_output=True,
                                   check=True).stdout)["uffd_poison"]
LOST_RC = 128 + signal.SIGBUS if POISON else 125


def lost_line(err, server):
    lines = [l for l in err.splitlines()
             if ("gets SIGBUS there" if POISON else "stopped by usm") in l]
    return (len(lines) == 1 and "is lost" in lines[0] and server.name() in lines[0]
            and "page at 0x" in lines[0])


def main():
    if not shutil.which("memcached"):
        taplib.skip("the memcached store", "memcached is not installed (scripts/deps.sh)")
        return taplib.done()
    servers = []
    try:
        # the shared workload: ~260 MB leave a 1/4 limit, so 3 x 160 MB
        servers = [Server(memory_mb=160) for _ in range(3)]
        native = subprocess.run([sys.executable, "-c", PYTHON_WORK], capture_output=True, env=ENV)
        r = run_usm(["--limit", "80M", "--store", spec(servers)], [sys.executable, "-c", PYTHON_WORK])
        tap(r.returncode == 0 and r.stdout == native.stdout,
            "a workload under a tight limit gives the same output with its pages on 3 servers",
            r.stderr.decode(errors="replace"))
        no_keys_left(servers, "after the workload")
        # a process killed outright cannot delete its pages itself: the
        # purge after the run finds them
        r = run_usm(["--limit", TWO_PHASE_LIMIT, "--store", spec(servers)],
                    [sys.executable, "-c", KILLED])
        tap(r.returncode == 128 + 9 and r.stdout == b"filled\n",
            "a process killed with SIGKILL after its pages left ends as killed",
            r.stderr.decode(errors="replace"))
        no_keys_left(servers, "after the SIGKILL")
        for s in servers:
            s.kill()

        want = native_two_phase()
        servers = [Server() for _ in range(3)]
        rc, out, err = two_phase([], servers, lambda: None)
        tap(rc == 0 and out == want, "the two-phase program's output is the same on the cluster",
            err)
        no_keys_left(servers, "two-phase")

        rc, out, err = two_phase(["--replicas", "1"], servers, servers[1].kill)
        tap(rc == 0 and out == want,
            "--replicas 1: a server killed between eviction and refault changes nothing", err)
        no_keys_left(servers, "after the kill with replicas")
        servers[1] = Server()

        # the first death is noticed in the first half and repaired there: every
        # page gets its second copy back on the two servers left, so the
        # second death loses nothing
        want3 = b"ready\nhalf\n" + want.split(b"\n", 1)[1]
        rc, out, err = three_phase(["--replicas", "1"], servers, servers[0].kill,
                                   servers[1].kill)
        tap(rc == 0 and out == want3,
            "--replicas 1: after a death the copies are restored elsewhere, so a second "
            "death changes nothing either", err)
        no_keys_left(servers, "after two deaths with replicas")
        servers[0] = Server()
        servers[1] = Server()

        rc, out, err = two_phase([], servers, servers[2].kill)
        tap(rc == LOST_RC and lost_line(err, servers[2]) and b"ready" in out and len(out.split()) == 1,
            "no replicas: a server killed mid-run ends the program (SIGBUS, or stopped "
            "before 6.6) with one line naming the page and the server", f"exit {rc}\n{err}")
        no_keys_left(servers, "after the kill without replicas")
        servers[2] = Server()

        def restart():
            port = servers[0].port
            servers[0].kill()
            servers[0] = Server(port=port)
        rc, out, err = two_phase([], servers, restart)
        tap(rc == LOST_RC and lost_line(err, servers[0]),
            "a server restarted empty mid-run is detected (stopped, page and server named)",
            f"exit {rc}\n{err}")
        no_keys_left(servers, "after the restart")

        rc, out, err = two_phase([], servers, lambda: ask(servers[1].port, b"flush_all\r\n",
                                                          b"\r\n"))
        tap(rc == LOST_RC and lost_line(err, servers[1]) and "no copy" in err,
            "a server that dropped its items (flush_all) is detected: never a wrong page",
            f"exit {rc}\n{err}")
        no_keys_left(servers, "after the flush")

        # -M servers that fill up: one small beside two big ones is skipped
        # once full; alone it stops the program with "store full"
        small = Server(memory_mb=8)
        rc, out, err = two_phase([], [small] + servers[1:], lambda: None)
        tap(rc == 0 and out == want,
            "a -M server that fills up is no longer written; the others take its share", err)
        no_keys_left([small] + servers[1:], "after the full server")
        rc, out, err = two_phase([], [small], lambda: None)
        tap(rc == 125 and "store full" in err and want.splitlines()[1] not in out
            and f"the store memcached:{small.name()}," in err,
            "a cluster whose every server is full stops the program with 'store full', "
            "naming the store as given",
            f"exit {rc}\n{err}")
        no_keys_left([small], "after the full cluster")
        small.kill()

        evicting = Server(no_evict=False)
        r = run_usm(["--limit", TWO_PHASE_LIMIT, "--store", spec(servers[:1] + [evicting])],
                    ["true"])
        lines = r.stderr.decode(errors="replace").splitlines()
        tap(r.returncode == 125 and any(evicting.name() in l and "evicts" in l and "-M" in l
                                        for l in lines),
            "a server that evicts (no -M) is refused up front", r.stderr.decode(errors="replace"))
        evicting.kill()

        r = run_usm(["--store", spec(servers), "--replicas", "3"], ["true"])
        tap(r.returncode == 2 and b"replicas=3 needs at least 4 servers" in r.stderr,
            "--replicas beyond the servers is a usage error", r.stderr.decode(errors="replace"))
        r = run_usm(["--store", "mem", "--replicas", "1"], ["true"])
        tap(r.returncode == 2 and b"only for a memcached" in r.stderr,
            "--replicas with another store is a usage error", r.stderr.decode(errors="replace"))

        r = subprocess.run([USM, "store", "check", spec(servers)], capture_output=True)
        rows = r.stdout.decode().splitlines()
        tap(r.returncode == 0 and len(rows) == 4 and all(" off " in l and " yes " in l
                                                         for l in rows[1:]),
            "usm store check shows each server's version, memory, eviction and RTT",
            r.stdout.decode() + r.stderr.decode())
        dead = free_port()
        r = subprocess.run([USM, "store", "check", f"memcached:127.0.0.1:{dead}"],
                           capture_output=True)
        err = r.stderr.decode().splitlines()
        tap(r.returncode == 1 and len(err) == 1 and f"127.0.0.1:{dead}" in err[0]
            and not r.stdout, "usm store check on a dead address: one line, exit 1",
            r.stdout.decode() + r.stderr.decode())
    finally:
        for s in STARTED:
            s.kill()
        shutil.rmtree(TMP, ignore_errors=True)
    return taplib.done()


sys.exit(main())
