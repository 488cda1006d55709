#!/usr/bin/env python3
"""usm dirty (docs/supervisor.md): on a process that writes each page of a
region exactly once at a steady pace, the region's pages usm dirty reports,
summed over its intervals, are exactly the pages written, none twice; the
process is not disturbed (its data intact, its sleeps resumed); a real
program watched gives the output it gives unwatched; bad input is one line
and the right exit status.

usage: dirty.py USM DIRTY_WRITER"""
import json
import os
import subprocess
import sys
import time

from taplib import done, skip, tap

USM, WRITER = sys.argv[1], sys.argv[2]
PER_TICK, TICKS, TICK_MS = 40, 30, 100  # 1200 pages at 400 pages/s for 3 s


def usm(*args, **kw):
    return subprocess.run([USM, "dirty", *args], capture_output=True, text=True, **kw)


def backends():
    """The backends this machine has for another process, with the reason
    for each it lacks."""
    probe = subprocess.Popen(["sleep", "30"])
    out = {}
    for b in ("scan", "softdirty"):
        r = usm("-p", str(probe.pid), "--backend", b, "--count", "1", "--interval", "0.1")
        out[b] = None if r.returncode == 0 else r.stderr.strip()
    probe.kill()
    probe.wait()
    return out


def start_writer():
    w = subprocess.Popen([WRITER, str(PER_TICK), str(TICKS), str(TICK_MS)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _, start, end = w.stdout.readline().split()
    assert w.stdout.readline().strip() == "ready"
    return w, int(start, 16), int(end, 16)


def watch_writer(backend):
    w, start, end = start_writer()
    watcher = subprocess.Popen([USM, "dirty", "-p", str(w.pid), "--backend", backend,
                                "--interval", "0.5", "--count", str(TICKS * TICK_MS // 500 + 4),
                                "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    # the watcher says what it watches once its trackers are in place
    first = watcher.stderr.readline()
    w.stdin.write("go\n")
    w.stdin.flush()
    lines = [w.stdout.readline().strip(), w.stdout.readline().strip()]
    out, err = watcher.communicate(timeout=120)
    w.stdin.close()
    w.wait()
    name = f"{backend}:"
    tap(watcher.returncode == 0, f"{name} usm dirty -p exits 0", first + err)
    tap(lines == [f"done {PER_TICK * TICKS}", "verified"] and w.returncode == 0,
        f"{name} the watched process's data is intact and its sleeps resumed", lines)
    try:
        doc = json.loads(out)
    except ValueError:
        tap(False, f"{name} --json is JSON", out[:500])
        return
    pages = []
    for iv in doc["intervals"]:
        for rg in iv["ranges"]:
            a, b = int(rg["start"], 16), int(rg["end"], 16)
            pages += [p for p in range(max(a, start), min(b, end), 4096)]
    tap(sorted(pages) == list(range(start, end, 4096)),
        f"{name} the region's {PER_TICK * TICKS} pages are reported exactly, each once",
        f"{len(pages)} reported, {len(set(pages))} distinct")
    tap(all(iv["pages"] == sum(r["pages"] for r in iv["ranges"]) for iv in doc["intervals"]),
        f"{name} each interval's count is the sum of its ranges")
    tap(doc["backend"] == backend and doc["pid"] == w.pid, f"{name} JSON names backend and pid")


def real_program(backend):
    """python3 building and hashing a large dict: its output watched equals
    its output alone."""
    code = ("import hashlib\nd = {i: str(i * 7919) * 3 for i in range(300000)}\n"
            "import time; time.sleep(0.5)\n"
            "h = hashlib.sha256()\n"
            "for k in sorted(d): h.update(d[k].encode())\n"
            "print(h.hexdigest(), len(d))\n")
    native = subprocess.run(["python3", "-c", code], capture_output=True, text=True).stdout
    p = subprocess.Popen(["python3", "-c", code], stdout=subprocess.PIPE, text=True)
    r = usm("-p", str(p.pid), "--backend", backend, "--interval", "0.2")
    out = p.communicate()[0]
    tap(out == native and p.returncode == 0, f"{backend}: python3 watched until it exits "
        "prints what it prints alone", f"{out!r} vs {native!r}")
    tap(r.returncode == 0 and "exited" in r.stderr, f"{backend}: usm dirty ends with the "
        "process and says so", r.stderr)


def main():
    have = backends()
    for b, why in have.items():
        if why is None:
            watch_writer(b)
            real_program(b)
        else:
            skip(f"{b}: usm dirty on another process", why)
            r = usm("-p", str(os.getpid()), "--backend", b)
            tap(r.returncode == 1 and len(r.stderr.splitlines()) == 1 and
                r.stderr.startswith(f"usm: dirty: {b}: "),
                f"{b}: forcing a backend the kernel lacks: one line naming it, exit 1", r.stderr)

    p = subprocess.Popen(["sleep", "30"])
    for args, status, what in (
            ([], 2, "no -p"),
            (["-p", "x"], 2, "a pid that is not a number"),
            (["-p", str(p.pid), "--interval", "0"], 2, "interval 0"),
            (["-p", str(p.pid), "--count", "0"], 2, "count 0"),
            (["-p", str(p.pid), "--backend", "uffd"], 2, "a backend that cannot watch another process"),
            (["-p", str(p.pid), "extra"], 2, "an extra argument"),
            (["-p", str(p.pid), "--bogus"], 2, "an unknown option"),
            (["-p", "999999999"], 1, "no such process")):
        r = usm(*args)
        tap(r.returncode == status and len(r.stderr.splitlines()) == 1 and
            r.stderr.startswith("usm: dirty: ") and not r.stdout,
            f"{what}: one line, exit {status}", f"{r.returncode} {r.stderr!r}")
    if os.geteuid() == 0 and any(w is None for w in have.values()):
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            USM, "dirty", "-p", str(p.pid), "--count", "1"],
                           capture_output=True, text=True)
        tap(r.returncode == 1 and "no access" in r.stderr and len(r.stderr.splitlines()) == 1,
            "another user's process: one line naming the missing access", r.stderr)
    p.kill()
    p.wait()
    r = usm("--help")
    tap(r.returncode == 0 and r.stdout.startswith("usage: usm dirty"), "--help prints the usage")
    return done()


if __name__ == "__main__":
    sys.exit(main())
