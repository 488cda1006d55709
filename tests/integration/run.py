#!/usr/bin/env python3
"""usm run against real programs, as TAP.

Each workload runs once natively (its output, exit status and peak RSS
recorded), then under `usm run` with a limit of a quarter of that peak. The
output must be byte-identical, the exit status the same, and the figures of
--stats must show that pages were evicted and faulted back (so the budget
was at work, not idle). Then the command-line contract of usm run.

usage: run.py USM PROGS_DIR"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import taplib
from taplib import tap  # next to this script

import native  # next to this script
from workloads import PERL_HASH, PYTHON_SORT, PYTHON_WORK

USM, PROGS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="usm-run-test.")
ENV = dict(os.environ, LC_ALL="C")
# The workloads are not ours: no sanitizer options, and none of meson's
# MALLOC_PERTURB_, which makes glibc fill every malloc'd byte (sort would
# touch all of its 6 GB buffer, not the 600 MB it uses).
for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "MALLOC_PERTURB_"):
    ENV.pop(k, None)
def run_native(argv, stdin):
    return native.run_native(argv, stdin, ENV)


def run_usm(args, argv, stdin, timeout=900):
    with open(stdin or os.devnull, "rb") as inp:
        return subprocess.run([USM, "run"] + args + ["--"] + argv, stdin=inp,
                              capture_output=True, env=ENV, timeout=timeout)


def workload(name, argv, stdin=None, extra=(), timeout=900):
    out, rc, peak = run_native(argv, stdin)
    limit = max(peak // 4 // 4096 * 4096, 1 << 20)
    stats = os.path.join(TMP, name + ".json")
    try:
        r = run_usm(["-q", "--limit", str(limit), "--stats", stats] + list(extra), argv, stdin, timeout)
    except subprocess.TimeoutExpired:
        tap(False, f"{name}: finishes under usm run (limit {limit >> 20}M)", "timed out")
        return
    tap(r.returncode == rc and r.stdout == out,
        f"{name}: same output and exit status under a limit of {limit >> 20}M "
        f"(a quarter of its {peak >> 20}M peak)",
        f"exit {r.returncode} vs {rc}, {len(r.stdout)} vs {len(out)} bytes\n"
        + r.stderr.decode(errors="replace"))
    try:
        s = json.load(open(stats))
    except (OSError, ValueError) as e:
        tap(False, f"{name}: --stats written", e)
        return
    tap(s["evictions"] > 0 and s["refaults"] > 0,
        f"{name}: pages were evicted and faulted back "
        f"({s['evictions']} evictions, {s['refaults']} refaults)", json.dumps(s))
    tap(s["peak_resident_bytes"] <= limit,
        f"{name}: managed resident memory stayed within the limit",
        f"peak {s['peak_resident_bytes']} > limit {limit}")


def make_inputs():
    import random
    rnd = random.Random(42)
    words = os.path.join(TMP, "words.txt")
    size = int(os.environ.get("USM_TEST_SORT_MB", "200")) << 20  # the 200 MB file
    with open(words, "w") as f:
        while f.tell() < size:
            f.write("".join("%08x %s\n" % (rnd.getrandbits(32), "abcdefghij"[rnd.randint(0, 9)] * rnd.randint(1, 40))
                            for _ in range(10000)))
    blob = os.path.join(TMP, "blob")
    # compressible but not trivially; 2 MB: xz -9's match finder reads its
    # tables at random, so at a quarter of its peak nearly every access
    # faults (about 2.5 minutes here)
    with open(blob, "wb") as f:
        for i in range(50000):
            f.write(b"line %d %s\n" % (rnd.getrandbits(20), b"xyz" * rnd.randint(0, 20)))
    src = os.path.join(TMP, "big.c")
    with open(src, "w") as f:
        for i in range(1500):
            f.write(f"int f{i}(int *a, int n) {{ int s = {i}; for (int k = 0; k < n; k++) "
                    f"s += a[k] * {i % 97} ^ (s >> {i % 13}); return s; }}\n")
    sql = os.path.join(TMP, "db.sql")
    with open(sql, "w") as f:
        f.write("""CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL, payload TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
  INSERT INTO t SELECT x, printf('name-%08d', (x * 7919) % 100003), x * 1.5,
                       printf('%.300c%d', char(97 + x % 26), x) FROM c;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_payload ON t(payload);
SELECT count(*), sum(v), min(name), max(name), sum(length(payload)) FROM t;
SELECT name, substr(payload, 1, 5) FROM t ORDER BY name LIMIT 3 OFFSET 50000;
SELECT substr(payload, 1, 1), count(*), avg(v) FROM t GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5;
SELECT count(*) FROM t a JOIN t b ON a.name = b.name WHERE a.id % 7 = 0;
""")
    return words, blob, src, sql




def contract_tests():
    r = subprocess.run([USM, "run", "--help"], capture_output=True)
    tap(r.returncode == 0 and b"--limit" in r.stdout and b"--policy" in r.stdout, "run --help")
    for args, what in ([["--limit", "lots", "--", "true"], "a limit that is not a size"],
                       [["--page-size", "1000", "--", "true"], "a page size not a multiple of 4K"],
                       [["--policy", "lru9", "--", "true"], "an unknown policy"],
                       [["--store", "tape", "--", "true"], "an unknown store"],
                       [["--prefetch", "-1", "--", "true"], "a negative prefetch"],
                       [["--limit"], "an option without its value"],
                       [["--bogus", "--", "true"], "an unknown option"],
                       [["--without", "poison,tea", "--", "true"], "an unknown --without feature"],
                       [["--spin", "soon", "--", "true"], "a --spin that is not a count"],
                       [[], "no command"]):
        r = subprocess.run([USM, "run"] + args, capture_output=True)
        tap(r.returncode == 2 and r.stderr.count(b"\n") == 1 and r.stderr.startswith(b"usm: run: "),
            f"{what} is one usage line, exit 2", r.stderr.decode())
    r = subprocess.run([USM, "run", "--", "/bin/busybox", "true"], capture_output=True)
    tap(r.returncode == 1 and b"statically linked" in r.stderr, "a static program is refused before it starts",
        r.stderr.decode())
    suid = os.path.join(TMP, "suid-true")
    shutil.copy("/bin/true", suid)
    os.chmod(suid, 0o4755)
    r = subprocess.run([USM, "run", "--", suid], capture_output=True)
    tap(r.returncode == 1 and b"set-uid" in r.stderr, "a set-uid program is refused", r.stderr.decode())
    r = subprocess.run([USM, "run", "--", "no-such-command-here"], capture_output=True)
    tap(r.returncode == 127 and b"command not found" in r.stderr, "a missing command exits 127")
    # as meson's PATH holds /usr/lib/x86_64-linux-gnu, where perl is a directory
    shadow = os.path.join(TMP, "shadow")
    os.makedirs(os.path.join(shadow, "true"))
    r = subprocess.run([USM, "run", "-q", "--", "true"], capture_output=True,
                       env=dict(ENV, PATH=shadow + ":" + ENV.get("PATH", "/usr/bin:/bin")))
    tap(r.returncode == 0, "a directory named as the command earlier in PATH is passed over",
        r.stderr.decode())
    r = subprocess.run([USM, "run", "-q", "--", "sh", "-c", "exit 7"], capture_output=True)
    tap(r.returncode == 7 and r.stderr == b"", "CMD's exit status is usm run's; --quiet prints nothing")
    r = subprocess.run([USM, "run", "--limit", "4M", "--", os.path.join(PROGS, "run_crash")],
                       capture_output=True, env=ENV)
    tap(r.returncode == 139 and b"Segmentation fault" in r.stderr and r.stdout == b"about to crash\n",
        "a SIGSEGV of CMD is reported with its signal, exit 139", r.stderr.decode())
    r = subprocess.run([USM, "run", "--limit", "4M", "--", "true"], capture_output=True)
    tap(r.returncode == 0 and b"faults" in r.stderr and b"evictions" in r.stderr,
        "the summary goes to stderr", r.stderr.decode())


def store_tests():
    prog = os.path.join(PROGS, "run_discard")
    out, rc, _ = run_native([prog], None)
    swap = os.path.join(TMP, "swap")
    stats = os.path.join(TMP, "file-store.json")
    r = run_usm(["-q", "--limit", "8M", "--store", "file:" + swap, "--stats", stats], [prog], None)
    s = json.load(open(stats)) if os.path.exists(stats) else {}
    tap(r.returncode == rc and r.stdout == out and s.get("bytes_to_store", 0) > 0,
        "the file store gives the same output", r.stderr.decode())
    tap(not [f for f in os.listdir(TMP) if f.startswith("swap")], "the swap file is removed at exit")
    # a store path with a quote: --stats must still be JSON, with the path as given
    qdir = os.path.join(TMP, 'q"dir')
    os.mkdir(qdir)
    spec = "file:" + os.path.join(qdir, "swap")
    stats = os.path.join(TMP, "quoted-store.json")
    r = run_usm(["-q", "--limit", "8M", "--policy", "clock", "--store", spec, "--stats", stats],
                [prog], None)
    try:
        settings = json.load(open(stats)).get("settings") or {}
    except (OSError, ValueError) as e:
        settings = {"error": str(e)}
    tap(r.returncode == rc and settings.get("store") == spec and settings.get("policy") == "clock",
        "--stats keeps a store path with a quote in its settings", json.dumps(settings) + "\n"
        + r.stderr.decode(errors="replace"))
    r = run_usm(["--limit", "8M", "--store", "mem:zstd", "--store-max", "1M"], [prog], None)
    tap(r.returncode != 0 and b"store full" in r.stderr,
        "a full store ends the program with a clear message", r.stderr.decode())
    for policy in ("fifo", "clock", "refault"):
        r = run_usm(["-q", "--limit", "8M", "--policy", policy], [prog], None)
        tap(r.returncode == rc and r.stdout == out, f"policy {policy} gives the same output")
    r = run_usm(["-q", "--limit", "8M", "--fixed-page-size"], [prog], None)
    tap(r.returncode == rc and r.stdout == out, "fixed (not adapting) blocks give the same output")


def spin_tests():
    """--spin 0 keeps the pager from polling (lib/pager/wait.c); the default
    polls, and finds faults so, unless the run has one CPU."""
    counts = {}
    for spin in ("0", None):
        stats = os.path.join(TMP, f"spin-{spin}.json")
        extra = ["--spin", spin] if spin else []
        r = run_usm(["-q", "--limit", "8M", "--stats", stats] + extra,
                    [os.path.join(PROGS, "run_noise"), "32"], None)
        try:
            s = json.load(open(stats))
        except (OSError, ValueError) as e:
            s = {"error": str(e)}
        counts[spin] = s
        tap(r.returncode == 0 and s.get("settings", {}).get("spin_us") == int(spin or 50),
            f"--spin {spin or '(default)'}: the run ends well and its settings say so",
            r.stderr.decode() + json.dumps(s))
    tap(counts["0"].get("polled_faults") == 0, "--spin 0: no fault found by polling",
        json.dumps(counts["0"]))
    if len(os.sched_getaffinity(0)) >= 2:
        tap(counts[None].get("polled_faults", 0) > 0, "by default the pager finds faults while polling",
            json.dumps(counts[None]))


def lost_page_tests():
    """A page the store cannot return (a read failure injected from its 100th
    read on, in test builds) ends the program with usm's line, never a hang
    or a wrong page: a SIGBUS where the kernel has UFFDIO_POISON, else the
    pager stops the process (exit 125), as --without poison forces here."""
    if not os.environ.get("USM_TEST_FAULT_INJECTION"):
        taplib.skip("lost pages", "built without -Dfault_injection=true (make check builds with it)")
        return
    poison = json.loads(subprocess.run([USM, "features", "--json"], capture_output=True,
                                       check=True).stdout)["uffd_poison"]
    env = dict(ENV, USM_INJECT_STORE_READ_FAILURE="100")
    cases = [("", "run_noise", ["64"]), ("", "run_threads", []),
             ("--without poison: ", "run_noise", ["64"])]
    for label, prog, args in cases:
        extra = ["--without", "poison"] if label else []
        sigbus = poison and not label
        try:
            r = subprocess.run([USM, "run", "--limit", "16M"] + extra + ["--",
                               os.path.join(PROGS, prog)] + args, capture_output=True, env=env,
                               timeout=600)
        except subprocess.TimeoutExpired:
            tap(False, f"{label}{prog}: a lost page ends the program", "timed out: a hang")
            continue
        err = r.stderr.decode(errors="replace")
        said = [l for l in err.splitlines() if "cannot read the evicted page at 0x" in l
                and "injected" in l]
        if sigbus:
            tap(r.returncode == 135 and len(said) == 1 and "gets SIGBUS there" in said[0]
                and "Bus error" in err, f"{prog}: a page the store cannot return is a SIGBUS "
                "with usm's one line naming the page (UFFDIO_POISON)", f"exit {r.returncode}\n{err}")
        else:
            tap(r.returncode == 125 and said and "stopping rather than returning wrong data" in err
                and "stopped by usm" in err, f"{label}{prog}: a page the store cannot return "
                "stops the process with usm's message, exit 125", f"exit {r.returncode}\n{err}")
        tap(b"intact" not in r.stdout, f"{label}{prog}: the program did not go on with a wrong page",
            r.stdout.decode(errors="replace"))


def hint_tests():
    """usm_hint: each line of run_hints is one behaviour (see hints.c)."""
    prog = os.path.join(PROGS, "run_hints")
    for label, argv in (("without usm", [prog]),
                        ("under usm run", [USM, "run", "-q", "--limit", "16M", "--", prog])):
        r = subprocess.run(argv, capture_output=True, env=ENV, timeout=300)
        lines = r.stdout.decode().splitlines()
        tap(r.returncode == 0 and len(lines) >= 2, f"hints {label}: the program ran ({len(lines)} checks)",
            r.stdout.decode() + r.stderr.decode())
        for line in lines:
            what, _, verdict = line.rpartition(": ")
            tap(verdict == "ok", f"hints {label}: {what}")


def children_of(pid):
    """Pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def anonymous_kb(pid):
    """The process's anonymous resident memory (smaps_rollup), or None."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# What a managed process may hold past --limit (docs/run.md): the program's
# own anonymous memory that usm does not manage (ld.so's and libc's data,
# the main thread's stack).
UNMANAGED_SLACK = 1 << 20


def budget_tests():
    """--limit caps what usm keeps in memory for the process, its store's
    memory included, measured by the kernel while the program runs."""
    import time
    prog = os.path.join(PROGS, "run_noise")
    limit = 16 << 20
    out, rc, _ = run_native([prog, "64"], None)
    stats = os.path.join(TMP, "noise.json")
    p = subprocess.Popen([USM, "run", "-q", "--limit", str(limit), "--stats", stats, "--",
                          prog, "64"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    peak, samples = 0, 0
    while p.poll() is None:
        for child in children_of(p.pid):
            kb = anonymous_kb(child)
            if kb is not None:
                samples += 1
                peak = max(peak, kb << 10)
        time.sleep(0.01)
    stdout, stderr = p.communicate()
    tap(p.returncode == rc and stdout == out, "incompressible memory 4x the limit: same output",
        stderr.decode(errors="replace"))
    tap(samples > 10 and peak <= limit + UNMANAGED_SLACK,
        f"its anonymous RSS, sampled {samples} times while it ran, stayed under the limit "
        f"plus the documented slack ({peak >> 10} KiB of {limit >> 10} KiB)",
        f"peak {peak}")
    try:
        s = json.load(open(stats))
    except (OSError, ValueError) as e:
        s = {"error": str(e)}
    tap(s.get("blocks_to_disk", 0) > 0 and s.get("peak_total_bytes", 0) > 0,
        "the mem store spilled to its temporary file past its share", json.dumps(s))
    swap = os.path.join(TMP, "tier")
    r = run_usm(["-q", "--limit", str(limit), "--store", "mem:zstd+file:" + swap, "--stats", stats],
                [prog, "64"], None)
    try:
        s = json.load(open(stats))
    except (OSError, ValueError) as e:
        s = {"error": str(e)}
    tap(r.returncode == rc and r.stdout == out, "mem+file: a workload 4x the limit gives the same output",
        r.stderr.decode(errors="replace"))
    tap(s.get("peak_store_memory_bytes", 0) > 0 and s.get("peak_store_disk_bytes", 0) > 0
        and s.get("blocks_to_disk", 0) > 0, "mem+file: blocks went to both tiers", json.dumps(s))
    tap(not [f for f in os.listdir(TMP) if f.startswith("tier")], "mem+file: its file is removed at exit")
    r = run_usm(["--limit", str(limit), "--store-share", "0"], ["true"], None)
    tap(r.returncode == 2 and b"--store-share" in r.stderr, "--store-share 0 is refused",
        r.stderr.decode())
    r = run_usm(["--limit", str(limit)], ["true"], None)
    tap(b"metadata" in r.stderr and b"in memory" in r.stderr,
        "the summary shows the store in memory, on disk and usm's metadata", r.stderr.decode())


def main():
    words, blob, src, sql = make_inputs()
    budget_tests()
    contract_tests()
    lost_page_tests()
    spin_tests()
    store_tests()
    hint_tests()
    workload("threads", [os.path.join(PROGS, "run_threads")])
    # fifo evicts the writers' hot pages too, while they are being written
    workload("race", [os.path.join(PROGS, "run_race")], extra=["--policy", "fifo"])
    workload("forks", [os.path.join(PROGS, "run_forks")])
    workload("remap", [os.path.join(PROGS, "run_remap")])
    workload("discard", [os.path.join(PROGS, "run_discard")])
    # thrashes by design (a quarter of its peak): about 10 minutes here
    workload("sort", ["sort", words], timeout=3600)
    workload("python3", ["python3", "-c", PYTHON_WORK])
    workload("perl-hash", ["perl", "-e", PERL_HASH])
    workload("python3-sort", ["python3", "-c", PYTHON_SORT])
    workload("sqlite3", ["sqlite3", ":memory:"], stdin=sql)
    workload("xz", ["sh", "-c", f"xz -9 -T1 -c {blob} | xz -dc | sha256sum"])
    obj = os.path.join(TMP, "big.o")
    workload("gcc", ["sh", "-c", f"gcc -O2 -c {src} -o {obj} && sha256sum < {obj}"])
    status = taplib.done()
    shutil.rmtree(TMP, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
