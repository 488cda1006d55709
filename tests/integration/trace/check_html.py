#!/usr/bin/env python3
"""Checks the page of 'usm trace report --html' as Chromium rendered it.

usage: check_html.py PAGE REPORT_JSON CAPMAP SHORT_NS DOM_ALL DOM_VERDICT VERDICT DOM_SORT

PAGE is the file usm wrote; DOM_* are Chromium's --dump-dom of it (after
its script ran) opened at #all (every site open), #verdict=VERDICT and
#sort=reads. The rows are compared with 'usm trace report --json' site by
site, and the verdict counts with the CAPMAP itself. Prints one line per
check: "ok NAME" or "not ok NAME: why"."""
import html.parser
import json
import re
import sys

page_path, report_path, cap_path, short_ns, dom_all, dom_verdict, verdict, dom_sort = sys.argv[1:9]
short_ns = int(short_ns)
VOID = {"meta", "input", "br", "img", "hr", "link", "col", "wbr", "source"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], []

    def cls(self):
        return (self.attrs.get("class") or "").split()

    def all_text(self):
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def find(self, tag=None, cls=None):
        out = []
        for c in self.children:
            if (tag is None or c.tag == tag) and (cls is None or cls in c.cls()):
                out.append(c)
            out.extend(c.find(tag, cls))
        return out


class Tree(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.root = self.cur = Node("root", [], None)

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def parse(path):
    t = Tree()
    t.feed(open(path, encoding="utf-8").read())
    return t.root


def cells(tr):
    return {td.attrs.get("class"): td.all_text() for td in tr.children if td.tag == "td"}


def number(text):
    return int(text.replace(",", ""))


results = []


def check(name, cond, why=""):
    results.append("ok %s" % name if cond else "not ok %s: %s" % (name, why))


# --- the file itself: nothing to fetch -------------------------------------------
page = open(page_path, encoding="utf-8").read()
check("the page names no external resource (no src or href, no http URL)",
      not re.search(r"<[a-z]+[^>]*\s(src|href)\s*=", page) and "http://" not in page
      and "https://" not in page)
check("the page forbids fetching anything (Content-Security-Policy default-src 'none')",
      "default-src 'none'" in page)
blob = re.search(r'<script type="application/json" id="usm-data">\n(.*?)\n</script>', page, re.S)
check("the data is one inline JSON blob", blob is not None)
data = json.loads(blob.group(1)) if blob else {}

# --- independent sums from the CAPMAP -------------------------------------------
objs = []
for line in open(cap_path):
    line = line.rstrip("\n")
    if line.startswith("  "):
        ip, w, r, tid = line[2:].split(",")
        objs[-1]["w"] += int(w)
        objs[-1]["r"] += int(r)
        continue
    f = line.split(",")
    objs.append(dict(site="%x" % int(f[0], 16), size=int(f[3]), alloc=int(f[4]), free=int(f[5]),
                     w=0, r=0))
want_verdicts = {}
for o in objs:
    v = want_verdicts.setdefault(o["site"], dict(never_read=0, never_written=0, write_only=0,
                                                 short_lived=0, read_mostly=0))
    v["never_read"] += o["r"] == 0
    v["never_written"] += o["w"] == 0
    v["write_only"] += o["w"] > 0 and o["r"] == 0
    v["short_lived"] += o["free"] != 0 and o["free"] - o["alloc"] < short_ns
    v["read_mostly"] += o["r"] > 0 and o["r"] >= 10 * o["w"]

# --- every site open: rows against report --json ---------------------------------
report = json.load(open(report_path))
want = {s["alloc_ip"]: s for s in report["sites"]}
root = parse(dom_all)
rows = root.find("tr", "site")
got = {r.attrs.get("data-ip"): cells(r) for r in rows}
check("one rendered row per site of report --json (%d)" % len(want), sorted(got) == sorted(want),
      "page %s, report %s" % (sorted(got), sorted(want)))
bad = []
for ip, s in want.items():
    c = got.get(ip)
    if c is None:
        continue
    for k in ("objects", "live", "bytes", "reads", "writes"):
        if number(c[k]) != s[k]:
            bad.append("%s %s: page %s, report %d" % (ip, k, c[k], s[k]))
    for k in ("where", "allocator"):
        if c[k] != s[k]:
            bad.append("%s %s: page %r, report %r" % (ip, k, c[k], s[k]))
check("each row's site, allocator, objects, live, bytes, reads, writes are report --json's",
      not bad and rows, "; ".join(bad[:5]))
bad = ["%s %s: page %s, CAPMAP %d" % (ip, k, got[ip][k], n)
       for ip, v in want_verdicts.items() if ip in got for k, n in v.items()
       if number(got[ip][k]) != n]
check("each row's verdict counts are the CAPMAP's objects never read, never written, written "
      "never read, short-lived, read-mostly", not bad and rows, "; ".join(bad[:5]))
order = [number(cells(r)["bytes"]) for r in rows]
check("sites are ranked by bytes, most first", order == sorted(order, reverse=True), str(order))

bad = []
kept = 0
for r in rows:
    ip, s = r.attrs.get("data-ip"), want.get(r.attrs.get("data-ip"))
    d = r.parent.children[r.parent.children.index(r) + 1]
    if "detail" not in d.cls() or s is None:
        bad.append("%s: no detail row" % ip)
        continue
    samples = d.find("table", "samples")
    touches = d.find("table", "touches")
    lifetimes = d.find("table", "lifetimes")
    if len(samples) != 1 or len(touches) != 1 or len(lifetimes) != 1:
        bad.append("%s: detail tables missing" % ip)
        continue
    n = len(samples[0].find("tbody")[0].find("tr"))
    kept += n
    if n != min(s["objects"], data.get("samples_per_site", 0)):
        bad.append("%s: %d objects listed of %d" % (ip, n, s["objects"]))
    freed = sum(number(tr.find("td")[1].all_text()) for tr in lifetimes[0].find("tr"))
    if freed != s["objects"] - s["live"]:
        bad.append("%s: lifetimes of %d objects, %d freed" % (ip, freed, s["objects"] - s["live"]))
    trs = touches[0].find("tbody")[0].find("tr")
    site_data = [x for x in data.get("sites", []) if x["alloc_ip"] == ip][0]
    if site_data["touches_total"] == len(trs):
        tr_reads = sum(number(cells(t)["reads"]) for t in trs)
        tr_writes = sum(number(cells(t)["writes"]) for t in trs)
        if (tr_reads, tr_writes) != (s["reads"], s["writes"]):
            bad.append("%s: access sites sum to %d/%d, site %d/%d" %
                       (ip, tr_reads, tr_writes, s["reads"], s["writes"]))
    if any(number(cells(t)["objects"]) > s["objects"] for t in trs):
        bad.append("%s: an access site touched more objects than the site has" % ip)
check("each open site lists its objects (up to the sample), the lifetimes of its freed ones, "
      "and access sites whose reads and writes sum to the site's", not bad and rows,
      "; ".join(bad[:5]))
text = root.all_text()
check("the page says what was aggregated (%d objects, %d kept)" % (report["objects"], kept),
      "Aggregated while reading: all %s objects" % format(report["objects"], ",") in text
      and "(%s kept, " % format(kept, ",") in text, text[:400])

# --- the verdict filter and a sort chosen in the address -------------------------
rows = parse(dom_verdict).find("tr", "site")
ips = [r.attrs.get("data-ip") for r in rows]
want_ips = sorted(ip for ip, v in want_verdicts.items() if v[verdict] > 0)
check("#verdict=%s shows exactly the sites with such objects (%d)" % (verdict, len(want_ips)),
      sorted(ips) == want_ips and want_ips, "page %s, CAPMAP %s" % (sorted(ips), want_ips))
order = [number(cells(r)[verdict]) for r in rows]
check("  ... most such objects first", order == sorted(order, reverse=True), str(order))
rows = parse(dom_sort).find("tr", "site")
order = [number(cells(r)["reads"]) for r in rows]
check("#sort=reads ranks all sites by reads", len(order) == len(want)
      and order == sorted(order, reverse=True), str(order))

print("\n".join(results))
