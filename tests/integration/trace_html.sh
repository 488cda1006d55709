#!/bin/sh
# usm trace report --html in a real browser: headless Chromium loads the
# page of a traced known program, and its rendered rows (after the page's
# script ran) are checked against usm trace report --json site by site; a
# screenshot is left in OUTDIR. A CAPMAP too big to keep makes a page of
# bounded size. usm trace diff on two known CAPMAPs, on two runs of one
# program, and on bad input.
# usage: trace_html.sh USM OUTDIR
set -u
usm=$1
outdir=$2/trace_html
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$outdir"
data=$here/trace

run() { # run ARGS... ; sets rc, out (stdout), err (stderr)
	"$usm" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}

# chromium URL ARGS...: the DOM after the page's script ran (or a screenshot)
chrome() {
	chrome_url=$1; shift
	chromium --headless --disable-gpu --no-sandbox --user-data-dir="$tmp/chrome" \
		--virtual-time-budget=10000 "$@" "$chrome_url" 2>>"$tmp/chrome.err"
}

# --- the page of a known program ---------------------------------------------
run cc -O0 -g -pthread "$data/pattern.c" -o "$tmp/pattern"
is "usm cc builds the pattern program" 0 "$rc"
run trace -o "$tmp/p.capmap" -- "$tmp/pattern" "$tmp/p.addrs"
is "the traced pattern program runs" 0 "$rc"
run trace report --json --top 0 "$tmp/p.capmap"
is "report --json" 0 "$rc"
cp "$tmp/out" "$tmp/p.json"
run trace report --html "$tmp/p.html" "$tmp/p.capmap"
is "report --html exits 0" 0 "$rc"
ok_if "  ... says where it wrote the page, with its sites and objects" \
	grep -Eq "^$tmp/p.html: [0-9]+ allocation sites, [0-9]+ objects \([0-9]+ kept as samples\)$" "$tmp/out"
cp "$tmp/p.html" "$outdir/pattern.html"
run trace report --html "$tmp/p.html" --json "$tmp/p.capmap"
is "report --html with --json is a usage error" 2 "$rc"
run trace report --html "$tmp/no/such/dir/p.html" "$tmp/p.capmap"
is "report --html to an unwritable path: exit 1" 1 "$rc"
ok_if "  ... in one line" sh -c "[ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q '^usm: trace: report: .*No such file or directory' '$tmp/err'"
printf '401000,1,1000,8,0,0,0,malloc,p,-\n  1,2\n' >"$tmp/bad.capmap"
run trace report --html "$tmp/bad.html" "$tmp/bad.capmap"
is "report --html of a corrupt CAPMAP: exit 1" 1 "$rc"
is "  ... one line naming the line" \
	"usm: trace: report: $tmp/bad.capmap: not a valid CAPMAP: line 2: an access line has 4 comma-separated fields" "$err"
ok_if "  ... and no page" test ! -e "$tmp/bad.html"

if ! command -v chromium >/dev/null; then
	tap_result ok "the page in Chromium # SKIP chromium is not installed (scripts/deps.sh)"
else
	url="file://$tmp/p.html"
	chrome "$url#all" --dump-dom >"$tmp/all.dom"
	ok_if "Chromium renders the page with every site open" grep -q '<tr class="site' "$tmp/all.dom"
	chrome "$url#verdict=write_only" --dump-dom >"$tmp/verdict.dom"
	chrome "$url#sort=reads" --dump-dom >"$tmp/sort.dom"
	python3 "$data/check_html.py" "$tmp/p.html" "$tmp/p.json" "$tmp/p.capmap" 10000 \
		"$tmp/all.dom" "$tmp/verdict.dom" write_only "$tmp/sort.dom" >"$tmp/checks" 2>&1 ||
		echo "not ok checker ran: $(cat "$tmp/checks")" >>"$tmp/checks"
	checker_results "$tmp/checks" "Chromium: "
	rm -f "$outdir/pattern.png"
	chrome "$url" --hide-scrollbars --window-size=1400,1000 --screenshot="$outdir/pattern.png" >/dev/null
	ok_if "a screenshot of the page" test -s "$outdir/pattern.png"
	echo "# screenshot: $outdir/pattern.png (page: $outdir/pattern.html)"
fi

# --- a CAPMAP too big to keep: summed while read, the page stays small ----------
# 200000 objects at 4 sites, each object read once
awk 'BEGIN { for (i = 0; i < 200000; i++) {
	printf "%x,1,%x,%d,%d,%d,401f00,malloc,p,-\n", 4096 + i % 4, 65536 + 32 * i, 16 + i % 7, i, i + 5
	printf "  402000,0,1,1\n" } }' >"$tmp/big.capmap"
run trace report --html "$tmp/big.html" "$tmp/big.capmap"
is "report --html of 200000 objects" "$tmp/big.html: 4 allocation sites, 200000 objects (400 kept as samples)" "$out"
ok_if "  ... a page of at most 400 kB whatever the CAPMAP's size ($(wc -c <"$tmp/big.capmap") bytes)" \
	test "$(wc -c <"$tmp/big.html")" -le 400000
if command -v chromium >/dev/null; then
	chrome "file://$tmp/big.html" --dump-dom >"$tmp/big.dom"
	is "  ... whose 4 rows have the 50000 objects of each site" 4 \
		"$(grep -o '<td class="objects">50,000</td>' "$tmp/big.dom" | wc -l)"
	ok_if "  ... and which says what it aggregated" grep -q \
		'Aggregated while reading: all 200,000 objects (200,000 access lines) .*(400 kept, 199,600 only counted)' "$tmp/big.dom"
else
	tap_result ok "the big page in Chromium # SKIP chromium is not installed (scripts/deps.sh)"
fi

# --- usm trace diff ----------------------------------------------------------
a=$data/diff_a.capmap
b=$data/diff_b.capmap
run trace diff --help
is "diff --help exits 0" 0 "$rc"
run trace diff --json "$a" "$b"
is "diff --json of two known CAPMAPs exits 0" 0 "$rc"
cp "$tmp/out" "$tmp/diff.json"
got=$(python3 - "$tmp/diff.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["sites"]:
    print(s["site"], s["in"], *(s["%s_%s" % (k, w)] for k in ("objects", "bytes", "reads", "writes")
                                for w in ("before", "after", "change")))
t = d["totals"]
print("totals", *(t["%s_%s" % (k, w)] for k in ("objects", "bytes", "reads", "writes")
                  for w in ("before", "after", "change")))
PY
)
is "diff: per site objects, bytes, reads, writes before, after, change; largest byte change first" \
	"401300 after 0 1 1 0 4096 4096 0 0 0 0 1 1
401000 both 2 3 1 150 300 150 8 9 1 11 20 9
404040 before 1 0 -1 8 0 -8 0 0 0 0 0 0
401100 both 1 1 0 64 64 0 8 8 0 0 0 0
totals 4 5 1 222 4460 4238 16 17 1 11 21 10" "$got"
run trace diff "$a" "$b"
is "diff (text) exits 0" 0 "$rc"
ok_if "  ... a row per site: before/after and change" grep -Eq \
	'^ +2/3 +1 +150/300 +150 +8/9 +1 +11/20 +9 401000$' "$tmp/out"
ok_if "  ... a site of one side says so" grep -q '401300 \[only in B\]$' "$tmp/out"
ok_if "  ... and the other" grep -q '404040 \[only in A\]$' "$tmp/out"
run trace diff "$a" "$a"
ok_if "diff of a CAPMAP with itself: no change anywhere" python3 -c '
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[4:]]
assert len(rows) == 3 and all(r[1] == r[3] == r[5] == r[7] == "0" for r in rows), rows' "$tmp/out"

# two runs of one program: other addresses (ASLR), the same sites by symbol
run trace -o "$tmp/p2.capmap" -- "$tmp/pattern" "$tmp/p2.addrs"
run trace diff --json "$tmp/p.capmap" "$tmp/p2.capmap"
is "diff of two runs of the pattern program exits 0" 0 "$rc"
ok_if "  ... every site matched by symbol, with the same objects and bytes" python3 - "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["sites"], d
for s in d["sites"]:
    assert s["in"] == "both", s
    assert s["objects_change"] == 0 and s["bytes_change"] == 0, s
assert any(s["alloc_ip_before"] != s["alloc_ip_after"] and "pattern.c:" in s["site"]
           for s in d["sites"]), "no site moved: was ASLR off?"
PY

# bad input: one line, non-zero exit
run trace diff "$a"
is "diff with one file: usage error" 2 "$rc"
run trace diff "$a" "$b" "$a"
is "diff with three files: usage error" 2 "$rc"
run trace diff "$a" "$tmp/nope.capmap"
is "diff, missing file: exit 1" 1 "$rc"
is "  ... one line naming it" "usm: trace: diff: $tmp/nope.capmap: No such file or directory" "$err"
head -c 100 "$b" >"$tmp/cut.capmap"
run trace diff "$tmp/cut.capmap" "$b"
is "diff, truncated CAPMAP: exit 1" 1 "$rc"
is "  ... one line saying so" \
	"usm: trace: diff: $tmp/cut.capmap: not a valid CAPMAP: line 3: truncated: the last line has no end" "$err"
sed '2s/,/,x/' "$b" >"$tmp/corrupt.capmap"
run trace diff "$a" "$tmp/corrupt.capmap"
is "diff, corrupt CAPMAP: exit 1" 1 "$rc"
ok_if "  ... one line naming the line" sh -c "[ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q '^usm: trace: diff: .*corrupt.capmap: not a valid CAPMAP: line 2: ' '$tmp/err'"
is "  ... and nothing on stdout" "" "$out"

done_testing
