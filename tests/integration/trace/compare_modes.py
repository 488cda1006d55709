#!/usr/bin/env python3
"""Checks that two CAPMAPs of the same program, one built by usm cc
--outline and one by usm cc (the trace pass), agree line for line on
objects, access sites, reads and writes. Prints one line: "ok NAME" or "not ok NAME: why".

    compare_modes.py [--by-function] OUTLINE.capmap OUTLINE.bin INLINE.capmap INLINE.bin [MAX]

The two builds put code at other addresses, so nothing is compared by
address. What differs legitimately is normalized:
  - an access IP (the instruction after the runtime call) becomes the
    source position of the call, ip - 1, symbolized by llvm-symbolizer-14
    to file:line:column (each mode calls once per access, at the access's
    debug location), or file:0 for code of no source line (merged by the
    compiler: the column of such a location means nothing); IPs outside the two programs (libc's string
    functions, counted by the runtime's interposers) become the function
    and its offset in their library, the same in both runs;
  - an object is named by its allocation site (alloc IP symbolized the
    same way; a global by its va, to the program's symbol of that
    address), allocator, size and allocating thread, and by its rank
    among objects of that name in allocation order;
  - a thread id by its rank among the file's thread ids (the same threads
    are created in the same order).
Then each object's (access position, thread) -> (reads, writes) must be
equal. With --by-function an access IP is named by its function only:
each object's reads and writes per (function, thread) must be equal. For
optimized code: there the backend merges identical tails of code (two
accesses on two lines become one call at line 0) in outline mode, where
the call sequences are short, and not around the pass's longer inline
code, so one outline IP can be two inline ones with the same sum. The
numbers of distinct IPs are printed, not compared. At most MAX differences (default 20) are printed."""
import bisect
import subprocess
import sys


def parse(path):
    objs, cur = [], None
    with open(path) as f:
        for line in f:
            if line.startswith("  "):
                ip, w, r, tid = line.strip().split(",")
                cur["acc"].append((int(ip, 16), int(w), int(r), int(tid)))
            elif line.strip():
                p = line.rstrip("\n").split(",")
                cur = {"alloc_ip": int(p[0], 16), "tid": int(p[1]), "va": int(p[2], 16),
                       "size": int(p[3]), "t": int(p[4]), "allocator": p[7], "acc": []}
                objs.append(cur)
    return objs


def parse_maps(path):
    maps = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 6 or not p[5].startswith("/"):
                continue
            lo, hi = (int(x, 16) for x in p[0].split("-"))
            maps.append((lo, hi, int(p[2], 16), p[5]))
    maps.sort()
    return maps


class Symbolizer:
    def __init__(self, capmap, binary):
        self.maps = parse_maps(capmap + ".maps")
        self.starts = [m[0] for m in self.maps]
        self.binary = binary
        self.cache = {}

    def where(self, addr):
        """The file and link-time address of addr: PIE programs and
        libraries are linked at 0, so that is addr minus the start of the
        file's first mapping (offset 0)."""
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0 or addr >= self.maps[i][1]:
            return None, addr
        path = self.maps[i][3]
        base = min(lo - off for lo, _, off, p in self.maps if p == path)
        return path, addr - base

    def resolve(self, addrs):
        """Symbolizes many (kind, addr) at once: 'code' is a call site
        (addr - 1), 'data' a global's address."""
        todo = {}
        for kind, a in addrs:
            if (kind, a) in self.cache:
                continue
            path, off = self.where(a - 1 if kind == "code" else a)
            if path is None:
                self.cache[(kind, a)] = "?%x" % a
                continue
            todo.setdefault((path, kind), []).append((a, off))
        for (path, kind), items in todo.items():
            ours = path == self.binary
            cmd = ["llvm-symbolizer-14", "--obj=" + path, "--functions=linkage", "--no-inlines"]
            prefix = "DATA " if kind == "data" else ""
            out = subprocess.run(cmd, input="".join("%s0x%x\n" % (prefix, off) for _, off in items),
                                 capture_output=True, text=True, check=True).stdout
            blocks = out.strip("\n").split("\n\n")
            for (a, off), block in zip(items, blocks):
                lines = block.split("\n")
                if not ours:  # a library: its name and offset, stable across runs
                    name = "%s:%s" % (path.rsplit("/", 1)[-1], lines[0])
                elif kind == "data":
                    name = "global " + lines[0]
                else:
                    pos = lines[1].rsplit("/", 1)[-1]
                    # line 0: no source line (code the compiler merged);
                    # its column means nothing either
                    if pos.split(":")[1:2] == ["0"]:
                        pos = pos.split(":")[0] + ":0"
                    name = "%s@%s" % (lines[0], pos)
                self.cache[(kind, a)] = name

    def name(self, kind, a):
        return self.cache[(kind, a)]


def normalize(capmap, binary, by_function):
    objs = parse(capmap)
    sym = Symbolizer(capmap, binary)
    want = set()
    for o in objs:
        want.add(("data" if o["allocator"] == "global" else "code", o["alloc_ip"]))
        for ip, _, _, _ in o["acc"]:
            want.add(("code", ip))
    sym.resolve(want)
    tids = sorted({o["tid"] for o in objs} | {a[3] for o in objs for a in o["acc"]})
    rank = {t: i for i, t in enumerate(tids)}
    seen, result = {}, {}
    for o in sorted(objs, key=lambda o: (o["t"], o["va"])):
        kind = "data" if o["allocator"] == "global" else "code"
        name = (sym.name(kind, o["alloc_ip"]), o["allocator"], o["size"], rank[o["tid"]])
        n = seen.get(name, 0)
        seen[name] = n + 1
        acc = {}
        for ip, w, r, tid in o["acc"]:
            where = sym.name("code", ip)
            key = (where.split("@")[0] if by_function else where, rank[tid])
            pr, pw = acc.get(key, (0, 0))
            acc[key] = (pr + r, pw + w)
        result[name + (n,)] = acc
    result["ips"] = len({a[0] for o in objs for a in o["acc"]})
    return result


def main():
    args = sys.argv[1:]
    by_function = args[:1] == ["--by-function"]
    if by_function:
        args = args[1:]
    out_cap, out_bin, in_cap, in_bin = args[:4]
    limit = int(args[4]) if len(args) > 4 else 20
    a, b = normalize(out_cap, out_bin, by_function), normalize(in_cap, in_bin, by_function)
    ips = (a.pop("ips"), b.pop("ips"))
    diffs = []
    for k in sorted(set(a) | set(b), key=str):
        if k not in a or k not in b:
            diffs.append("object %s only in %s" % (k, "outline" if k in a else "inline"))
            continue
        for s in sorted(set(a[k]) | set(b[k]), key=str):
            x, y = a[k].get(s, (0, 0)), b[k].get(s, (0, 0))
            if x != y:
                diffs.append("object %s site %s: outline reads/writes %s, inline %s" % (k, s, x, y))
    nsites = sum(len(v) for v in a.values())
    reads = sum(r for v in a.values() for r, _ in v.values())
    writes = sum(w for v in a.values() for _, w in v.values())
    name = ("outline and inline CAPMAPs agree: %d objects, %d (access %s, thread) pairs, "
            "%d reads, %d writes (access IPs: outline %d, inline %d)"
            % ((len(a), nsites, "function" if by_function else "site", reads, writes) + ips))
    if not diffs:
        print("ok " + name)
    else:
        print("not ok %s: %d differences: %s" % (name, len(diffs), "; ".join(diffs[:limit])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
