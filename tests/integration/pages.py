#!/usr/bin/env python3
"""usm pages (docs/supervisor.md): its runs agree page by page with
/proc/PID/pagemap (and /proc/kpageflags) read here directly, through
PAGEMAP_SCAN and through the pagemap fallback; its per-mapping summary
agrees with smaps; the pages of a target with known contents have the facts
they must; bad input is one line and the right exit status.

usage: pages.py USM PAGES_TARGET"""
import json
import os
import struct
import subprocess
import sys

from taplib import done, skip, tap

USM, TARGET = sys.argv[1], sys.argv[2]
PAGE = 4096
ROOT = os.geteuid() == 0

PM_PRESENT, PM_SWAPPED, PM_FILE = 1 << 63, 1 << 62, 1 << 61
PM_UFFD_WP, PM_EXCLUSIVE, PM_SOFT_DIRTY = 1 << 57, 1 << 56, 1 << 55
PFN_MASK = (1 << 55) - 1
KPF_HUGE, KPF_THP, KPF_ZERO = 1 << 17, 1 << 22, 1 << 24


def usm(*args, **kw):
    return subprocess.run([USM, "pages", *args], capture_output=True, text=True, **kw)


def maps_of(pid):
    """(start, end, name) of each mapping but [vsyscall]."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5].strip() if len(fields) > 5 else ""
            if name != "[vsyscall]":
                out.append((start, end, name))
    return out


def smaps_of(pid):
    """{start: {field: kB}} from smaps."""
    out, cur = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                cur = out.setdefault(int(first.split("-")[0], 16), {})
            elif first.endswith(":") and len(line.split()) >= 2 and line.split()[1].isdigit():
                cur[first[:-1]] = int(line.split()[1])
    return out


def direct_facts(pid, start, end, kpf):
    """{page address: set of fact names} for the present or swapped pages,
    read from pagemap (and kpageflags for zero and huge)."""
    facts = {}
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(start // PAGE * 8)
        data = f.read((end - start) // PAGE * 8)
    for i, (e,) in enumerate(struct.iter_unpack("<Q", data)):
        if not e & (PM_PRESENT | PM_SWAPPED):
            continue
        s = set()
        s |= {"present"} if e & PM_PRESENT else set()
        s |= {"swapped"} if e & PM_SWAPPED else set()
        s |= {"file"} if e & PM_FILE else set()
        s |= {"exclusive"} if e & PM_EXCLUSIVE else set()
        s |= {"soft_dirty"} if e & PM_SOFT_DIRTY else set()
        s |= set() if e & PM_UFFD_WP else {"written"}
        if e & PM_PRESENT and not e & PM_FILE:
            s.add("anon")
        pfn = e & PFN_MASK if e & PM_PRESENT else 0
        if kpf and pfn:
            kpf.seek(pfn * 8)
            (k,) = struct.unpack("<Q", kpf.read(8))
            s |= {"zero"} if k & KPF_ZERO else set()
            s |= {"huge"} if k & (KPF_THP | KPF_HUGE) else set()
        facts[start + i * PAGE] = (s, pfn)
    return facts


def usm_facts(doc):
    """{page address: (set of fact names, frame)} from usm pages --runs."""
    facts = {}
    for run in doc["runs"]:
        start, end = int(run["start"], 16), int(run["end"], 16)
        pfn = int(run["pfn"], 16) if run["pfn"] else 0
        for i, a in enumerate(range(start, end, PAGE)):
            facts[a] = (set(run["facts"]), pfn + i if pfn else 0)
    return facts


def compare(direct, got, known, where):
    """Differences on the facts usm says it knows; huge only where asked
    (PAGEMAP_SCAN's huge is 'mapped by a huge entry', kpageflags' 'part of
    a compound huge page': they agree on anonymous THPs, not on large file
    folios)."""
    diffs = []
    for a in sorted(set(direct) | set(got)):
        if a not in got or a not in direct:
            diffs.append(f"{a:x}: only {'here' if a in direct else 'in usm'}")
            continue
        (want, wpfn), (have, hpfn) = direct[a], got[a]
        keys = set(known) - {"pfn"} | {"anon"}
        if not where(a):
            keys -= {"huge"}
        if want & keys != have & keys:
            diffs.append(f"{a:x}: pagemap {sorted(want & keys)} usm {sorted(have & keys)}")
        elif "pfn" in known and wpfn != hpfn:
            diffs.append(f"{a:x}: pagemap frame {wpfn:x}, usm {hpfn:x}")
    return diffs


def main():
    target = subprocess.Popen([TARGET], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    regions = {}
    for line in target.stdout:
        if line.startswith("ready"):
            break
        name, start, end = line.split()
        regions[name] = (int(start, 16), int(end, 16))
    pid = target.pid
    try:
        checks(pid, regions)
    finally:
        target.stdin.close()
        target.wait()
    return done()


def checks(pid, regions):
    kpf = open("/proc/kpageflags", "rb") if ROOT and os.path.exists("/proc/kpageflags") else None
    ours = lambda a: any(s <= a < e for s, e in regions.values())

    # page by page, the whole process, both paths
    for flags, how in (([], "PAGEMAP_SCAN"), (["--no-pagemap-scan"], "pagemap entries")):
        r = usm("-p", str(pid), "--runs", "--json", *flags)
        if not tap(r.returncode == 0, f"--runs --json through {how} exits 0", r.stderr):
            continue
        doc = json.loads(r.stdout)
        known = doc["known"]
        direct = {}
        for start, end, _ in maps_of(pid):
            direct.update(direct_facts(pid, start, end, kpf))
        diffs = compare(direct, usm_facts(doc), known, ours)
        tap(not diffs, f"every page's facts through {how} are pagemap's "
            f"({len(direct)} pages, facts {','.join(known)})", "\n".join(diffs[:20]))
        want_known = {"present", "swapped", "file", "exclusive", "soft_dirty", "written"}
        if ROOT:
            want_known |= {"pfn", "zero", "huge"}
        tap(want_known <= set(known), f"{how} tells {sorted(want_known)} to this user",
            known)

    # the known pages of the target
    r = usm("-p", str(pid), "--runs", "--json")
    got = usm_facts(json.loads(r.stdout))
    a0 = regions["anon"][0]
    written = [i for i in range(64) if i < 8 or i % 5 == 0]
    zero = [i for i in range(40, 48) if i not in written]
    tap(all("anon" in got.get(a0 + i * PAGE, (set(),))[0] and
            "exclusive" in got[a0 + i * PAGE][0] for i in written),
        "written private pages are present, anonymous and exclusive")
    tap(all("zero" in got.get(a0 + i * PAGE, (set(),))[0] for i in zero),
        "pages only read map the zero page")
    tap(not any(a0 + i * PAGE in got for i in range(64) if i not in written and i not in zero),
        "untouched pages are absent")
    s0 = regions["shared"][0]
    tap(all("file" in got.get(s0 + i * PAGE, (set(),))[0] for i in range(4)) and
        not any(s0 + i * PAGE in got for i in range(4, 16)),
        "written shared anonymous pages are shmem (file), the others absent")
    f0 = regions["file"][0]
    tap(all(("anon" in got[f0 + i * PAGE][0]) == (8 <= i < 12) for i in range(16)),
        "a private file mapping's written pages are anonymous copies, the rest file pages")

    # the summary against smaps, mapping by mapping
    r = usm("-p", str(pid), "--json")
    tap(r.returncode == 0, "the summary --json exits 0", r.stderr)
    doc = json.loads(r.stdout)
    smaps = smaps_of(pid)
    diffs, total_rss = [], 0
    for m in doc["mappings"]:
        sm = smaps.get(int(m["start"], 16))
        if sm is None:
            diffs.append(f"{m['start']}: not in smaps")
            continue
        total_rss += sm["Rss"]
        huge = sm.get("AnonHugePages", 0) + sm.get("ShmemPmdMapped", 0) + sm.get("FilePmdMapped", 0)
        for key, want in (("rss", sm["Rss"]), ("anon", sm["Anonymous"]), ("swapped", sm["Swap"]),
                          ("huge", huge)):
            if m[key] is not None and m[key] != want * 1024:
                diffs.append(f"{m['start']} {m['name']}: {key} {m[key]}, smaps {want * 1024}")
    tap(not diffs, f"each of {len(doc['mappings'])} mappings' rss, anon, swapped and huge "
        "are smaps' Rss, Anonymous, Swap and Pmd-mapped", "\n".join(diffs))
    tap(doc["total"]["rss"] == total_rss * 1024,
        "the total's rss is the sum of smaps' Rss", f"{doc['total']['rss']} vs {total_rss * 1024}")
    hs, he = regions["huge"]
    hm = [m for m in doc["mappings"] if int(m["start"], 16) <= hs < int(m["end"], 16)]
    if smaps_huge := smaps.get(int(hm[0]["start"], 16), {}).get("AnonHugePages", 0):
        tap(hm[0]["huge"] == smaps_huge * 1024, "a THP-backed region counts its huge pages")
    else:
        skip("a THP-backed region counts its huge pages", "the kernel gave the region no huge page")

    # selections
    r = usm("-p", str(pid), f"{a0:x}-{regions['anon'][1]:x}", "--json")
    doc = json.loads(r.stdout) if r.returncode == 0 else {"mappings": []}
    m = doc["mappings"]
    tap(len(m) == 1 and m[0]["size"] == 64 * PAGE and m[0]["present"] ==
        (len(written) + len(zero)) * PAGE and (m[0]["zero"] in (None, len(zero) * PAGE)),
        "a range selects its pages only, counted exactly", r.stdout[:2000] + r.stderr)
    r = usm("-p", str(pid), "--mapping", "[stack]")
    lines = r.stdout.splitlines()
    tap(r.returncode == 0 and len(lines) == 3 and "[stack]" in lines[1] and
        lines[2].split()[-1] == "total", "--mapping [stack] shows the stack and a total", r.stdout)
    libc = [n for _, _, n in maps_of(pid) if "/libc.so" in n or "/libc-" in n]
    if libc:
        r = usm("-p", str(pid), "--mapping", os.path.basename(libc[0]), "--json")
        names = {m["name"] for m in json.loads(r.stdout)["mappings"]} if r.returncode == 0 else set()
        tap(names == {libc[0]}, "--mapping takes a file name for its path", r.stderr + str(names))

    # bad input: one line, exit 2 for usage, 1 for what cannot be done
    for args, status, what in (
            ([], 2, "no -p"),
            (["-p", "0"], 2, "pid 0"),
            (["-p", "x"], 2, "a pid that is not a number"),
            (["-p", str(pid), "2000-1000"], 2, "a range that ends before it starts"),
            (["-p", str(pid), "1000-2000", "--mapping", "x"], 2, "a range and a mapping"),
            (["-p", str(pid), "1000-2000", "3000-4000"], 2, "two ranges"),
            (["-p", str(pid), "--bogus"], 2, "an unknown option"),
            (["-p", str(pid), "--mapping", "no-such-mapping"], 1, "a mapping name that is not there"),
            (["-p", str(pid), "1000-2000"], 1, "a range with no mapping"),
            (["-p", "999999999"], 1, "no such process")):
        r = usm(*args)
        tap(r.returncode == status and len(r.stderr.splitlines()) == 1 and
            r.stderr.startswith("usm: pages: ") and not r.stdout,
            f"{what}: one line, exit {status}", f"{r.returncode} {r.stderr!r} {r.stdout[:200]!r}")
    if ROOT:
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            USM, "pages", "-p", str(pid)], capture_output=True, text=True)
        tap(r.returncode == 1 and "no access" in r.stderr and len(r.stderr.splitlines()) == 1,
            "another user's process: one line naming the missing access", r.stderr)
    r = usm("--help")
    tap(r.returncode == 0 and r.stdout.startswith("usage: usm pages"), "--help prints the usage")
    if kpf:
        kpf.close()


if __name__ == "__main__":
    sys.exit(main())
