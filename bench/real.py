#!/usr/bin/env python3
"""usm run on real programs against the kernel's own paging, in one run.

Each program (a perl hash, python3 sorting tuples, sort of a big file,
sqlite3 with an index, xz -9) runs natively first, which gives its output and
its peak RSS. Then, at a quarter and at a half of that peak, it runs
  - under the kernel: a cgroup v1 memory limit of that size, with a swap file;
  - under `usm run --limit` with default settings, and once per --policy.
Every run's output must equal the native one (a mismatch is reported, never
timed). Figures: wall seconds, the ratio kernel / usm (>1: usm is faster),
usm's refaults. A kernel run killed by its OOM killer is "oom", a run past
--timeout is "timeout". Needs root (cgroup, swap file, userfaultfd).

usage: bench/real.py [--quick] [--timeout S] [--only NAME[,NAME]] [--policy P]... [--also ARGS]... [--json] [BUILD_DIR]"""
import argparse
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser(usage=__doc__.splitlines()[-1].split("usage: ")[1])
ap.add_argument("--quick", action="store_true", help="smaller inputs (a minute or two in all)")
ap.add_argument("--timeout", type=float, default=600, help="seconds per run (default 600)")
ap.add_argument("--only", default="", help="comma-separated program names")
ap.add_argument("--policy", action="append", default=[], help="also run usm with this policy")
ap.add_argument("--also", action="append", default=[],
                help="also run usm with these usm run options (e.g. '--spin 0')")
ap.add_argument("--json", action="store_true", help="the results as one JSON document")
ap.add_argument("build", nargs="?", default="build")
a = ap.parse_args()

usm = os.path.join(a.build, "tools/usm/usm")
if not os.access(usm, os.X_OK):
    sys.exit(f"bench/real.py: no {usm} (run make first)")
if os.geteuid() != 0:
    sys.exit("bench/real.py: needs root (cgroup v1 memory limit, swap file, userfaultfd)")
tmp = tempfile.mkdtemp(prefix="usm-real.")


def make_text(path, mib):
    """Lines of words in a fixed pseudo-random order: the same file every run."""
    words = [f"w{(i * 2654435761) % 1000003:07d}" for i in range(4096)]
    x, out, size = 1, [], 0
    with open(path, "w") as f:
        while size < mib << 20:
            x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            line = " ".join(words[(x >> s) % 4096] for s in (7, 19, 31, 43)) + "\n"
            out.append(line)
            size += len(line)
            if len(out) == 4096:
                f.write("".join(out))
                out = []
        f.write("".join(out))


scale = 4 if a.quick else 1
keys = 400000 // scale
tuples = 2000000 // scale
rows = 100000 // scale
sort_file = os.path.join(tmp, "sort.txt")
xz_file = os.path.join(tmp, "xz.txt")
PROGRAMS = [
    ("perl-hash", ["perl", "-e",
                   f'my %h; $h{{$_ * 7919 % 1000003}} = "v$_" x 3 for 1 .. {keys}; '
                   'my $s = 0; $s += length($h{$_}) for keys %h; print scalar(keys %h), " $s\\n"']),
    ("python-sort", ["python3", "-c",
                     f"import random\nrandom.seed(1)\nl = [(random.random(), i) for i in range({tuples})]\n"
                     "l.sort()\nprint(len(l), l[0], l[len(l) // 2], l[-1])"]),
    ("sort", ["sh", "-c", f"LC_ALL=C sort {sort_file} | md5sum"]),
    ("sqlite3", ["sqlite3", ":memory:",
                 "CREATE TABLE t(k INTEGER, v TEXT);"
                 f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) "
                 "INSERT INTO t SELECT x * 7919 % 100003, printf('%.200c%d', 'v', x) FROM c;"
                 "CREATE INDEX tk ON t(k);"
                 "SELECT count(*), sum(length(v)) FROM t WHERE k % 7 = 3;"
                 "SELECT k, substr(v, 195) FROM t ORDER BY k DESC LIMIT 3;"]),
    ("xz", ["sh", "-c", f"xz -9 -T1 -c {xz_file} | md5sum"]),
]
if a.only:
    wanted = set(a.only.split(","))
    unknown = wanted - {p[0] for p in PROGRAMS}
    if unknown:
        sys.exit(f"bench/real.py: no program named {', '.join(sorted(unknown))}")
    PROGRAMS = [p for p in PROGRAMS if p[0] in wanted]
if any(p[0] == "sort" for p in PROGRAMS):
    make_text(sort_file, 200 // scale)
if any(p[0] == "xz" for p in PROGRAMS):
    make_text(xz_file, 16 // scale)


def run(argv, timeout, cgroup=None):
    """(seconds, output digest or None, status, peak RSS in bytes)."""
    def enter():
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        os.setsid()
    out = tempfile.TemporaryFile(dir=tmp)
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, preexec_fn=enter)
    deadline = start + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            return None, None, "timeout", 0
        time.sleep(0.05)
    secs = time.monotonic() - start
    out.seek(0)
    digest = hashlib.sha256(out.read()).hexdigest()
    if os.WIFSIGNALED(status):
        return secs, digest, f"signal {os.WTERMSIG(status)}", ru.ru_maxrss << 10
    return secs, digest, os.WEXITSTATUS(status), ru.ru_maxrss << 10


# The kernel's baseline: a cgroup v1 memory limit and a swap file.
CG = "/sys/fs/cgroup/memory/usm-real-bench"
swapfile = None


def kernel_setup():
    global swapfile
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        return "no cgroup v1 memory controller"
    with open("/proc/swaps") as f:
        has_swap = len(f.read().splitlines()) > 1
    if not has_swap:
        swapfile = "/var/tmp/usm-real-bench.swap"
        r = subprocess.run(f"fallocate -l 2G {swapfile} && chmod 600 {swapfile} && "
                           f"mkswap -q {swapfile} && swapon {swapfile}", shell=True)
        if r.returncode:
            swapfile = None
            return "no swap file could be made"
    os.makedirs(CG, exist_ok=True)
    return None


def kernel_cleanup():
    if os.path.isdir(CG):
        os.rmdir(CG)
    if swapfile:
        subprocess.run(["swapoff", swapfile])
        os.unlink(swapfile)


def oom_kills():
    with open(os.path.join(CG, "memory.oom_control")) as f:
        for line in f:
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    return 0


def kernel_run(argv, limit):
    for knob, value in (("memory.limit_in_bytes", limit), ("memory.max_usage_in_bytes", 0)):
        with open(os.path.join(CG, knob), "w") as f:
            f.write(str(value))
    before = oom_kills()
    secs, digest, status, _ = run(argv, a.timeout, CG)
    if oom_kills() > before:
        return None, None, "oom"
    return secs, digest, status


# The usm runs of each program at each limit: (column, extra usm run options).
VARIANTS = ([("usm", [])] + [(f"usm {p}", ["--policy", p]) for p in a.policy]
            + [(f"usm {x}", shlex.split(x)) for x in a.also])


def usm_run(argv, limit, opts):
    stats = os.path.join(tmp, "stats.json")
    secs, digest, status, _ = run([usm, "run", "-q", "--limit", str(limit), "--stats", stats, *opts,
                                   "--", *argv], a.timeout)
    refaults = None
    if status == 0:
        with open(stats) as f:
            refaults = json.load(f)["refaults"]
    return secs, digest, status, refaults


def verdict(secs, digest, status, want):
    """A run's seconds, or why it has none."""
    if status not in (0,):
        return str(status)
    if digest != want:
        return "WRONG OUTPUT"
    return secs


why_no_kernel = kernel_setup()
results = []
try:
    for name, argv in PROGRAMS:
        secs, want, status, peak = run(argv, a.timeout)
        if status != 0:
            sys.exit(f"bench/real.py: {name} failed natively ({status})")
        for frac in (4, 2):
            limit = max(peak // frac, 1 << 20) & ~4095
            row = {"program": name, "native_s": secs, "peak": peak, "limit": limit,
                   "fraction": f"1/{frac}"}
            if why_no_kernel is None:
                k = kernel_run(argv, limit)
                row["kernel"] = verdict(*k, want)
            for key, opts in VARIANTS:
                s, d, st, ref = usm_run(argv, limit, opts)
                row[key] = verdict(s, d, st, want)
                row[key + " refaults"] = ref
            results.append(row)
            if not a.json:
                print(json.dumps(row), file=sys.stderr, flush=True)
finally:
    kernel_cleanup()
    subprocess.run(["rm", "-rf", tmp])


def cell(v):
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def ratio(k, u):
    return f"{k / u:.2f}" if isinstance(k, float) and isinstance(u, float) else "-"


if a.json:
    json.dump({"kernel_baseline": why_no_kernel or "cgroup v1 + swap file",
               "results": results}, sys.stdout, indent=2)
    print()
    sys.exit(0)
print(f"# bench/real.py: {os.uname().release}, {os.cpu_count()} cores, timeout {a.timeout:.0f} s"
      + (" (quick)" if a.quick else ""))
if why_no_kernel:
    print(f"# kernel baseline unavailable: {why_no_kernel}")
cols = [key for key, _ in VARIANTS]
print(f"{'program':12} {'peak':>7} {'limit':>9} {'native':>7} {'kernel':>8}"
      + "".join(f" {c:>12} {'k/u':>5} {'refaults':>9}" for c in cols))
for r in results:
    line = (f"{r['program']:12} {r['peak'] >> 20:6}M {r['fraction']:>4} {r['limit'] >> 20:3}M "
            f"{r['native_s']:7.2f} {cell(r.get('kernel', '-')):>8}")
    for c in cols:
        line += (f" {cell(r[c]):>12} {ratio(r.get('kernel'), r[c]):>5}"
                 f" {cell(r[c + ' refaults']):>9}")
    print(line)
