#!/usr/bin/env python3
"""Compares a CAPMAP with Valgrind DHAT's profile of the same program run
on the same input: per allocation site (file:line of the call), the number
of blocks and the bytes allocated must be the same.

usage: compare_dhat.py CAPMAP REPORT_JSON DHAT_JSON FILE_REGEX
Only sites in source files whose base name matches FILE_REGEX are
compared (what both can see: allocations by the program's own code, not
by libc's internals).

DHAT charges a realloc to the site that allocated the block first, as one
more block of the new size; a CAPMAP records a realloc as the free of the
old object and a new object at the realloc's IP, at the same instant.
The chain is followed back so both count alike. DHAT also counts a
zero-byte request as one byte (Valgrind's allocator hands out one), so
the CAPMAP's size 0 counts 1 here. Prints "ok ..." or
"not ok ...: why" lines."""
import json
import os
import re
import sys
from collections import Counter

cap_path, report_path, dhat_path = sys.argv[1:4]
files = re.compile(sys.argv[4])

objs = []
for line in open(cap_path):
    if line.startswith("  "):
        continue
    f = line.rstrip("\n").split(",")
    objs.append(dict(alloc_ip=int(f[0], 16), pid=int(f[1]), size=int(f[3]), alloc_time=int(f[4]),
                     free_time=int(f[5]), free_ip=int(f[6], 16), allocator=f[7]))

site = {}
for s in json.load(open(report_path))["sites"]:
    if s["file"] and files.match(os.path.basename(s["file"])):
        site[int(s["alloc_ip"], 16)] = "%s:%d" % (os.path.basename(s["file"]), s["line"])

freed_by = {}
for o in objs:
    if o["free_time"]:
        freed_by.setdefault((o["pid"], o["free_ip"], o["free_time"]), []).append(o)


def root(o):
    seen = 0
    while o["allocator"] == "realloc" and seen < 1 << 20:
        prev = freed_by.get((o["pid"], o["alloc_ip"], o["alloc_time"]))
        if not prev or len(prev) != 1:
            break
        o = prev[0]
        seen += 1
    return o


usm_blocks, usm_bytes = Counter(), Counter()
for o in objs:
    if o["allocator"] in ("mmap", "global"):
        continue
    key = site.get(root(o)["alloc_ip"])
    if key:
        usm_blocks[key] += 1
        usm_bytes[key] += max(o["size"], 1)

d = json.load(open(dhat_path))
ftbl = d["ftbl"]
frame = re.compile(r"^0x[0-9A-Fa-f]+: .* \(([^():]+):(\d+)\)$")
dhat_blocks, dhat_bytes = Counter(), Counter()
for pp in d["pps"]:
    frames = [ftbl[i] for i in pp["fs"]]
    # frame 0 is Valgrind's replacement allocator; the caller follows
    caller = next((f for f in frames if "vg_replace_malloc" not in f and "vgpreload" not in f), None)
    m = frame.match(caller or "")
    if not m or not files.match(os.path.basename(m.group(1))):
        continue
    key = "%s:%s" % (os.path.basename(m.group(1)), m.group(2))
    dhat_blocks[key] += pp["tbk"]
    dhat_bytes[key] += pp["tb"]

out = []
ok = lambda c, name, why="": out.append(("ok " if c else "not ok ") + name + ("" if c else ": " + why))
ok(len(dhat_blocks) > 0, "DHAT saw allocation sites in the program", "none")
ok(set(usm_blocks) == set(dhat_blocks), "the same allocation sites (%d)" % len(dhat_blocks),
   "only usm: %s, only DHAT: %s" % (sorted(set(usm_blocks) - set(dhat_blocks)),
                                   sorted(set(dhat_blocks) - set(usm_blocks))))
diff = {k: (usm_blocks[k], dhat_blocks[k]) for k in dhat_blocks if usm_blocks[k] != dhat_blocks[k]}
ok(not diff, "the same number of allocations per site (%d in all)" % sum(dhat_blocks.values()),
   "usm vs DHAT: %s" % diff)
diff = {k: (usm_bytes[k], dhat_bytes[k]) for k in dhat_bytes if usm_bytes[k] != dhat_bytes[k]}
ok(not diff, "the same bytes allocated per site (%d in all)" % sum(dhat_bytes.values()),
   "usm vs DHAT: %s" % diff)
print("\n".join(out))
