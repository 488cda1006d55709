#!/usr/bin/env python3
"""usmd's global policies, in one run (docs/performance.md).

Two copies of bench/scan with different working sets (big: --big MiB,
small: --small MiB) share one pool (--pool MiB). Measured in the same run:
  1. each alone under `usm run --no-daemon --limit POOL/2` (a fixed half);
  2. both at once, joined to usmd, under `fair` with weights 3:1 (asked
     split 75% / 25%), then under `priority` (big: 10, small: 0).
For the shared runs it prints the split of the pool usm status saw while
both ran (mean of each one's grant) and each one's time; and the total
throughput against the fixed halves: sum over both of
(time alone at half / time shared), so 2.00 means as good as the fixed
halves. Needs root (userfaultfd) and a build.

usage: bench/usmd.py [--pool MiB] [--big MiB] [--small MiB] [--passes P] [BUILD_DIR]"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser(usage=__doc__.splitlines()[-1].split("usage: ")[1])
ap.add_argument("--pool", type=int, default=128)
ap.add_argument("--big", type=int, default=192)
ap.add_argument("--small", type=int, default=96)
ap.add_argument("--passes", type=int, default=2)
ap.add_argument("build", nargs="?", default="build")
a = ap.parse_args()
here = os.path.dirname(os.path.abspath(__file__))
usm = os.path.join(a.build, "tools/usm/usm")
usmd = os.path.join(a.build, "tools/usmd/usmd")
for exe in (usm, usmd):
    if not os.access(exe, os.X_OK):
        sys.exit(f"bench: {exe} not built (run make)")
tmp = tempfile.mkdtemp(prefix="usmd-bench.")
sock = os.path.join(tmp, "usmd.sock")
env = dict(os.environ, USM_SOCKET=sock)
progs = {}
subprocess.run(["cc", "-O2", "-o", os.path.join(tmp, "scan"), os.path.join(here, "scan.c")], check=True)
for name in ("scan_big", "scan_small"):  # usmd's config matches by process name
    progs[name] = os.path.join(tmp, name)
    shutil.copy(os.path.join(tmp, "scan"), progs[name])
mib = {"scan_big": a.big, "scan_small": a.small}


def argv(name):
    return [progs[name], str(mib[name]), str(a.passes)]


def timed(cmd):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.monotonic() - t


def status():
    r = subprocess.run([usm, "status", "--json", "--socket", sock], capture_output=True)
    return json.loads(r.stdout) if r.returncode == 0 else None


def shared(policy, sections):
    conf = os.path.join(tmp, policy + ".conf")
    with open(conf, "w") as f:
        f.write(f"[pool]\npolicy = {policy}\n" + sections)
    if os.path.exists(sock):
        os.unlink(sock)
    d = subprocess.Popen([usmd, "--foreground", "--pool", f"{a.pool}M", "--socket", sock,
                          "--config", conf], stderr=subprocess.DEVNULL)
    while not os.path.exists(sock):
        time.sleep(0.05)
    start = time.monotonic()
    procs = {n: subprocess.Popen([usm, "run", "-q", "--"] + argv(n), stdout=subprocess.DEVNULL, env=env)
             for n in progs}
    ends, grants = {}, {n: [] for n in progs}
    while len(ends) < len(procs):
        st = status()
        rows = {r["name"]: r for r in (st or {}).get("processes", [])}
        if all(n in rows for n in progs) and not ends:
            for n in progs:
                grants[n].append(rows[n]["grant"])
        for n, p in procs.items():
            if n not in ends and p.poll() is not None:
                ends[n] = time.monotonic() - start
        time.sleep(0.1)
    d.terminate()
    d.wait()
    mean = {n: sum(g) / len(g) if g else 0 for n, g in grants.items()}
    total = sum(mean.values()) or 1
    return ends, {n: mean[n] / total for n in progs}, len(grants["scan_big"])


half = f"{a.pool // 2}M"
alone = {n: timed([usm, "run", "-q", "--no-daemon", "--limit", half, "--"] + argv(n)) for n in progs}
print(f"# bench/usmd.py: pool {a.pool} MiB, working sets {a.big} and {a.small} MiB, "
      f"{a.passes} passes, {os.uname().release}, {os.cpu_count()} cores")
print(f"{'run':<34} {'big s':>8} {'small s':>8} {'big share':>10} {'small share':>12} {'throughput':>11}")
print(f"{'alone, fixed half each':<34} {alone['scan_big']:8.2f} {alone['scan_small']:8.2f} "
      f"{0.5:10.2f} {0.5:12.2f} {2.0:11.2f}")
for policy, sections, asked in (
        ("fair", "[process scan_big]\nweight = 3\n[process scan_small]\nweight = 1\n", "75/25"),
        ("priority", "[process scan_big]\npriority = 10\n[process scan_small]\npriority = 0\n", "big first")):
    t, split, samples = shared(policy, sections)
    thr = sum(alone[n] / t[n] for n in progs)
    print(f"{policy + ' (asked ' + asked + ')':<34} {t['scan_big']:8.2f} {t['scan_small']:8.2f} "
          f"{split['scan_big']:10.2f} {split['scan_small']:12.2f} {thr:11.2f}   ({samples} samples)")
shutil.rmtree(tmp, ignore_errors=True)
