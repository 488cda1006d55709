#!/usr/bin/env python3
"""Real programs sharing one usmd pool, as TAP (docs/usmd.md).

1. Three programs run at once under `usm run` joined to one usmd whose pool
   is a third of their combined native peak: each output is byte-identical
   to its native run, each process evicted and refaulted, and the sum of
   their resident memory, sampled from `usm status --json` while they run,
   never passes the pool plus the documented slack.
2. SIGKILL of one client mid-run: its grant returns to the pool at once and
   the others finish with the right output.
3. SIGKILL of usmd mid-run: the clients finish with the right output, and a
   usmd restarted on the same socket is rejoined by the ones still running.

usage: usmd_run.py USM USMD PROGS_DIR"""
import json
import os
import signal
import subprocess
import sys
import tempfile

import taplib
from taplib import tap  # next to this script
import time

from native import run_native  # next to this script
from workloads import PYTHON_WORK

USM, USMD, PROGS = sys.argv[1], sys.argv[2], sys.argv[3]
TMP = tempfile.mkdtemp(prefix="usmd-run-test.")
SOCK = os.path.join(TMP, "usmd.sock")
ENV = dict(os.environ, LC_ALL="C", USM_SOCKET=SOCK)
# The workloads are not ours: no sanitizer options, and none of meson's
# MALLOC_PERTURB_, which makes glibc fill every malloc'd byte (sort would
# touch all of its 6 GB buffer, not the 600 MB it uses).
for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "MALLOC_PERTURB_"):
    ENV.pop(k, None)
DAEMON_ENV = dict(os.environ)  # usmd itself may run under ASan
MIN_GRANT = (64 << 10) * 5 + 256 * 4096  # default page size x (1 + prefetch) + one batch

# runs a while under a small share: for the kill and restart cases
PYTHON_LONG = """
import hashlib
l = [bytes([i % 251]) * 4000 for i in range(60000)]
h = hashlib.sha256()
for r in range(12):
    for k in range(r, len(l), 3):
        h.update(l[k])
print(h.hexdigest())
"""

SQL = """CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, payload TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
  INSERT INTO t SELECT x, printf('name-%08d', (x * 7919) % 100003), printf('%.600c%d', char(97 + x % 26), x) FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), min(name), max(name), sum(length(payload)) FROM t;
SELECT count(*) FROM t a JOIN t b ON a.name = b.name WHERE a.id % 7 = 0;
"""


def workloads():
    sql = os.path.join(TMP, "db.sql")
    with open(sql, "w") as f:
        f.write(SQL)
    return {
        "threads": ([os.path.join(PROGS, "run_threads")], None),
        "python3": (["python3", "-c", PYTHON_WORK], None),
        "sqlite3": (["sqlite3", ":memory:"], sql),
    }


def native(argv, stdin):
    return run_native(argv, stdin, ENV)


def start_usm(name, argv, stdin, extra=()):
    stats = os.path.join(TMP, name + ".json")
    inp = open(stdin or os.devnull, "rb")
    p = subprocess.Popen([USM, "run", "-q", "--stats", stats] + list(extra) + ["--"] + argv,
                         stdin=inp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    p.stats_path = stats
    return p


def start_usmd(pool, log):
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    d = subprocess.Popen([USMD, "--foreground", "--pool", str(pool), "--socket", SOCK],
                         stdout=log, stderr=log, env=DAEMON_ENV)
    for _ in range(200):
        if os.path.exists(SOCK) and status() is not None:
            return d
        if d.poll() is not None:
            break
        time.sleep(0.05)
    return d


def status():
    """The pool and its rows, or None when no usmd answers."""
    r = subprocess.run([USM, "status", "--json", "--socket", SOCK], capture_output=True,
                       timeout=30)
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def rows(st):
    return st.get("processes", []) if st else []


def finish(p, timeout=1200):
    out, err = p.communicate(timeout=timeout)
    try:
        s = json.load(open(p.stats_path))
    except (OSError, ValueError):
        s = {}
    return out, err, s


def shared_pool():
    work = workloads()
    ref, peak = {}, 0
    for name, (argv, stdin) in work.items():
        out, rc, pk = native(argv, stdin)
        ref[name] = (out, rc)
        peak += pk
    pool = max(peak // 3 // 4096 * 4096, 64 << 20)
    log = open(os.path.join(TMP, "usmd-shared.log"), "w")
    d = start_usmd(pool, log)
    tap(d.poll() is None and status() is not None, f"usmd serves a pool of {pool >> 20}M "
        f"(a third of the programs' combined {peak >> 20}M)")
    procs = {name: start_usm(name, argv, stdin) for name, (argv, stdin) in work.items()}
    worst, samples, seen = 0, 0, set()
    while any(p.poll() is None for p in procs.values()):
        st = status()
        if st:
            total = sum(r["resident"] for r in rows(st))
            seen.update(r["pid"] for r in rows(st))
            worst = max(worst, total)
            samples += 1
        time.sleep(0.1)
    for name, p in procs.items():
        out, err, s = finish(p)
        tap(p.returncode == ref[name][1] and out == ref[name][0],
            f"{name}: same output and exit status sharing the pool", err.decode(errors="replace"))
        tap(s.get("evictions", 0) > 0 and s.get("refaults", 0) > 0,
            f"{name}: evicted and refaulted under its share ({s.get('evictions')} evictions, "
            f"{s.get('refaults')} refaults)", json.dumps(s))
    slack = len(work) * MIN_GRANT
    tap(samples > 5 and len(seen) >= len(work),
        f"usm status saw every client while they ran ({samples} samples, {len(seen)} processes)")
    tap(worst <= pool + slack, f"summed resident stayed within the pool + slack "
        f"(worst {worst >> 20}M, pool {pool >> 20}M, slack {slack >> 20}M)")
    st = status()
    tap(st is not None and not rows(st) and st["pool"]["free"] == st["pool"]["size"],
        "every frame is back in the pool when the clients are gone", json.dumps(st))
    d.send_signal(signal.SIGTERM)
    tap(d.wait(timeout=30) == 0, "usmd stops cleanly on SIGTERM", open(log.name).read())


def wait_for(pred, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return None


def client_pids(st, name):
    return [r["pid"] for r in rows(st) if r["name"] == name]


def joins(args):
    """The usmd socket a usm run joined, from its --stats settings."""
    stats = os.path.join(TMP, "joins.json")
    subprocess.run([USM, "run", "-q", "--stats", stats] + args + ["--", "true"], env=ENV, timeout=60)
    return json.load(open(stats))["settings"]["daemon"]


def kill_client():
    ref, _, _ = native(["python3", "-c", PYTHON_LONG], None)
    pool = 96 << 20
    log = open(os.path.join(TMP, "usmd-kill.log"), "w")
    d = start_usmd(pool, log)
    tap(joins([]) == SOCK, "usm run joins the usmd whose socket exists")
    tap(joins(["--no-daemon"]) is None, "usm run --no-daemon does not")
    a = start_usm("long-a", ["python3", "-c", PYTHON_LONG], None)
    b = start_usm("long-b", ["python3", "-c", PYTHON_LONG], None)
    both = wait_for(lambda: (lambda st: st if len(client_pids(st, "python3")) == 2 else None)(status()))
    tap(both is not None, "two clients joined the pool", json.dumps(status()))
    if both is None:
        a.kill(), b.kill(), d.kill()
        return
    victim = rows(both)[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    after = wait_for(lambda: (lambda st: st if victim not in [r["pid"] for r in rows(st)]
                              else None)(status()), timeout=10)
    granted = sum(r["grant"] for r in rows(after)) if after else -1
    tap(after is not None and after["pool"]["free"] + granted == after["pool"]["size"],
        "a SIGKILLed client's frames return to the pool at once", json.dumps(after))
    results = [finish(p) for p in (a, b)]
    codes = sorted(p.returncode for p in (a, b))
    survivor = [r for p, r in zip((a, b), results) if p.returncode == 0]
    tap(codes == [0, 128 + signal.SIGKILL] and survivor and survivor[0][0] == ref,
        "the other client finishes with the right output",
        f"exit statuses {codes}\n" + "".join(r[1].decode(errors="replace") for r in results))
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=30)


def kill_daemon():
    ref, _, _ = native(["python3", "-c", PYTHON_LONG], None)
    pool = 96 << 20
    log = open(os.path.join(TMP, "usmd-restart.log"), "w")
    d = start_usmd(pool, log)
    a = start_usm("restart-a", ["python3", "-c", PYTHON_LONG], None)
    b = start_usm("restart-b", ["python3", "-c", PYTHON_LONG], None)
    joined = wait_for(lambda: len(client_pids(status(), "python3")) == 2)
    tap(bool(joined), "two clients joined the pool")
    d.kill()
    d.wait()
    time.sleep(0.5)
    d = start_usmd(pool, log)
    rejoined = wait_for(lambda: (lambda st: st if len(client_pids(st, "python3")) >= 1 else None)(status()),
                        timeout=20)
    tap(rejoined is not None, "a restarted usmd is rejoined by the clients still running",
        json.dumps(status()))
    for p in (a, b):
        out, err, _ = finish(p)
        tap(p.returncode == 0 and out == ref, "a client finishes with the right output across "
            "the usmd restart", err.decode(errors="replace"))
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=30)


def stopped_daemon():
    """A usmd that accepts but never answers (SIGSTOP) costs a client one
    bounded wait; its descendants do not wait again, and it joins once usmd
    runs again."""
    ref, _, _ = native(["python3", "-c", PYTHON_LONG], None)
    log = open(os.path.join(TMP, "usmd-stopped.log"), "w")
    d = start_usmd(96 << 20, log)
    d.send_signal(signal.SIGSTOP)
    r = subprocess.run([USM, "run", "-q", "--", "sh", "-c", "sh -c true; sh -c true"],
                       capture_output=True, env=ENV, timeout=120)
    tap(r.returncode == 0 and r.stderr.count(b"until it answers") == 1,
        "with usmd stopped, a process tree runs, and only its first process waited for usmd",
        r.stderr.decode(errors="replace"))
    p = start_usm("stopped", ["python3", "-c", PYTHON_LONG], None)
    time.sleep(1)
    d.send_signal(signal.SIGCONT)
    joined = wait_for(lambda: client_pids(status(), "python3"), timeout=30)
    out, err, _ = finish(p)
    tap(bool(joined) and p.returncode == 0 and out == ref,
        "a client that started while usmd was stopped joins when it runs again, output right",
        err.decode(errors="replace"))
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=30)


def main():
    shared_pool()
    kill_client()
    kill_daemon()
    stopped_daemon()
    return taplib.done()


if __name__ == "__main__":
    sys.exit(main())
