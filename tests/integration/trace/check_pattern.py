#!/usr/bin/env python3
"""Checks the CAPMAP of trace/pattern.c against what the program does.

usage: check_pattern.py CAPMAP ADDRS REPORT_JSON pattern.c
Prints one line per check: "ok NAME" or "not ok NAME: why"."""
import json
import re
import sys

cap_path, addr_path, report_path, src_path = sys.argv[1:5]


def parse(path):
    objs = []
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("  "):
            ip, w, r, tid = line[2:].split(",")
            objs[-1]["acc"].append((int(ip, 16), int(w), int(r), int(tid)))
            continue
        f = line.split(",")
        objs.append(dict(alloc_ip=int(f[0], 16), pid=int(f[1]), va=int(f[2], 16), size=int(f[3]),
                         alloc_time=int(f[4]), free_time=int(f[5]), free_ip=int(f[6], 16),
                         allocator=f[7], process=f[8], cache=f[9], acc=[]))
    return objs


objs = parse(cap_path)
addrs, qs = {}, []
for line in open(addr_path):
    name, v = line.split()
    if name == "q":
        qs.append(int(v, 16))
    else:
        addrs[name] = int(v, 16)
site_lines = {}
for n, line in enumerate(open(src_path), 1):
    m = re.search(r"SITE:(\w+)", line)
    if m:
        site_lines[n] = m.group(1)
report = json.load(open(report_path))
ip_site = {}
for s in report["sites"]:
    if s["file"] and s["file"].endswith("pattern.c"):
        ip_site[int(s["alloc_ip"], 16)] = site_lines.get(s["line"], "line %d" % s["line"])

results = []


def check(name, cond, why=""):
    results.append("ok " + name if cond else "not ok %s: %s" % (name, why))


mine = [o for o in objs if o["alloc_ip"] in ip_site]
names = sorted(ip_site[o["alloc_ip"]] for o in mine)
want = sorted(["a", "b", "c", "c2", "d", "s", "p", "m", "q", "q", "q", "q"])
check("exactly the program's objects, at the marked sites", names == want, "%s != %s" % (names, want))

main_tid = next(o["pid"] for o in objs if o["allocator"] == "global")
expect = {  # size, allocator, live, reads, writes
    "a": (400, "malloc", True, 1, 100),
    "b": (400, "calloc", True, 50, 0),
    "c": (16, "malloc", False, 0, 4),
    "c2": (1 << 20, "realloc", False, 0, 10),
    "d": (40, "malloc", False, 0, 1),
    "s": (32, "malloc", False, 1, 1),
    "p": (256, "memalign", False, 0, 1),
    "m": (8192, "mmap", False, 0, 4),
}
by_name = {}
for o in mine:
    by_name.setdefault(ip_site[o["alloc_ip"]], []).append(o)
for name, (size, alloc, live, reads, writes) in expect.items():
    o = by_name.get(name, [None])[0]
    if o is None:
        check(name + ": present", False, "missing")
        continue
    got = (o["va"], o["size"], o["allocator"], o["free_time"] == 0,
           sum(a[2] for a in o["acc"]), sum(a[1] for a in o["acc"]))
    check("%s: address, size, allocator, liveness and counts" % name,
          got == (addrs[name], size, alloc, live, reads, writes),
          "got %s want %s" % (got, (addrs[name], size, alloc, live, reads, writes)))
    check(name + ": every access by the main thread", all(a[3] == main_tid for a in o["acc"]),
          str(o["acc"]))
    if not live:
        check(name + ": free after allocation", o["free_time"] >= o["alloc_time"] and o["free_ip"],
              str(o))

c, c2 = by_name.get("c", [None])[0], by_name.get("c2", [None])[0]
if c and c2:
    check("realloc moved the object", c["va"] != c2["va"], "same address")
    check("realloc: old object freed at the new one's IP and instant",
          c["free_ip"] == c2["alloc_ip"] and c["free_time"] == c2["alloc_time"], "%s %s" % (c, c2))

qobjs = by_name.get("q", [])
tids = sorted(o["pid"] for o in qobjs)
check("4 thread objects, one per thread", len(set(tids)) == 4 and main_tid not in tids, str(tids))
check("thread objects: 8 writes each, by their own thread",
      all(o["acc"] and all(a[3] == o["pid"] and a[1] == 8 and a[2] == 0 for a in o["acc"])
          and o["free_time"] for o in qobjs), str([o["acc"] for o in qobjs]))

g = [o for o in objs if o["allocator"] == "global" and o["va"] == addrs["g_counts"]]
if g:
    g = g[0]
    per = {}
    for ip, w, r, tid in g["acc"]:
        per.setdefault(tid, []).append((w, r))
    threads_ok = all(sorted(per.get(t, [])) == [(0, 1000), (1000, 0)] for t in tids)
    check("g_counts: size 256", g["size"] == 256, str(g["size"]))
    check("g_counts: 1000 reads and 1000 writes from each thread, at two sites", threads_ok, str(per))
    check("g_counts: 4 reads from the main thread", per.get(main_tid) == [(0, 4)], str(per.get(main_tid)))
else:
    check("g_counts: registered global", False, "missing")
g = [o for o in objs if o["allocator"] == "global" and o["va"] == addrs["g_total"]]
check("g_total: 8 bytes, 5 reads, 4 writes, main thread only",
      bool(g) and g[0]["size"] == 8 and sum(a[2] for a in g[0]["acc"]) == 5
      and sum(a[1] for a in g[0]["acc"]) == 4 and all(a[3] == main_tid for a in g[0]["acc"]),
      str(g))
check("globals are live with free time 0",
      all(o["free_time"] == 0 for o in objs if o["allocator"] == "global"), "")
check("process field is the program's name", all(o["process"] == "pattern" for o in mine),
      str(set(o["process"] for o in mine)))
print("\n".join(results))
