#!/bin/sh
# usm bench primitives (docs/bench.md): its rows, not its speed. One --quick
# --json run: every primitive and mechanism has its row, measured rows have
# positive times, a mechanism missing here says why, the classic way's
# VMA-limit failure is a failure (ENOMEM) and not a time, every ratio is the
# classic time over the row's; then the text table, --help and the one-line
# usage errors. No timing is checked.
set -u
usm=$1
. "$(dirname "$0")/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # run ARGS... ; sets rc, out (stdout), err (stderr)
	"$usm" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}

run bench primitives --quick --json
is "bench primitives --quick --json exits 0" 0 "$rc"
cp "$tmp/out" "$tmp/json"
python3 - "$tmp/json" <<'PY' >"$tmp/check"
import json, sys
def say(ok, name, why=""):
    print(("ok " if ok else "not ok ") + name + ("" if ok or not why else ": " + why))
try:
    doc = json.load(open(sys.argv[1]))
except Exception as e:
    say(False, "the output is one JSON document", str(e)); sys.exit()
rows = doc["rows"]
say(doc["runs"] == 3 and doc["quick"] is True and doc["size"] == 64 << 20 and
    len(doc["load_average"]) == 3 and doc["kernel"],
    "the document says how it was measured (runs, size, kernel, load average)", str(doc))

def key(r):
    return (r["primitive"], r["mechanism"], r["written_pct"])
want = [("syscall", "getppid", None), ("first-write fault", "kernel anonymous", None),
        ("first-write fault", "uffd missing (pager)", None)]
for p in ("PROT1,TRAP,UNPROT", "PROTN,TRAP,UNPROT"):
    for m in ("mprotect+SIGSEGV", "uffd-sigbus", "mprotect", "uffd-thread"):
        want.append((p, m, None))
backends = ("mprotect+SIGSEGV", "bare PAGEMAP_SCAN", "scan", "softdirty", "uffd", "mprotect")
for m in backends:
    for pct in (0.1, 1.0, 10.0):
        want.append(("tracking cycle", m, pct))
have = {key(r) for r in rows}
# an unavailable backend is one row without a share
unavail = {(r["primitive"], r["mechanism"]) for r in rows if r["status"] == "unavailable"}
missing = [w for w in want if w not in have and (w[0], w[1]) not in unavail]
say(not missing, "every primitive and mechanism has a row", "missing %s" % missing)
vma = {r["mechanism"]: r for r in rows if r["primitive"] == "tracking, every 2nd page"}
say("mprotect+SIGSEGV" in vma and (set(backends) <= set(vma) or
                                   vma["mprotect+SIGSEGV"]["status"] == "unavailable"),
    "the every-second-page pattern has a row per backend", str(sorted(vma)))

bad = [r for r in rows if r["status"] == "ok" and not (r["ns"] and r["ns"] > 0)]
bad += [r for r in rows for k in ("ns", "collect_ns", "classic_ns")
        if r[k] is not None and not r[k] > 0]
say(not bad, "every measured time is a positive number", str(bad[:3]))
bad = [r for r in rows if r["status"] != "ok" and r["ns"] is not None]
say(not bad, "a row that is not measured has no time", str(bad[:3]))
bad = [r for r in rows if r["primitive"] == "tracking cycle" and r["status"] == "ok" and
       not (0 < r["collect_ns"] <= r["ns"])]
say(not bad, "a tracking cycle's collect is a part of its time", str(bad[:3]))

un = [r for r in rows if r["status"] == "unavailable"]
bad = [r for r in un if not r["note"].startswith("unavailable: ") or len(r["note"]) < 20]
say(not bad, "an unavailable mechanism says why (%d here: %s)"
    % (len(un), ", ".join(sorted({r["mechanism"] for r in un})) or "none"), str(bad[:3]))
bad = [r for r in rows if r["status"] == "failed" and not r["note"].startswith("failed: ")]
say(not bad, "a failed row says how it failed", str(bad[:3]))

c = vma.get("mprotect+SIGSEGV")
if c and c["status"] == "unavailable":
    print("ok the classic way fails on the VMA limit # SKIP %s" % c["note"])
    print("ok usm's mprotect backend reports the VMA limit from collect # SKIP %s" % c["note"])
else:
    say(c and c["status"] == "failed" and c["ns"] is None and "ENOMEM after" in c["note"] and
        c["ratio"] is None,
        "the classic way fails on the VMA limit: ENOMEM after some pages, no time", str(c))
    m = vma.get("mprotect")
    say(m and m["status"] == "failed" and m["ns"] is None and "ENOMEM" in m["note"],
        "usm's mprotect backend reports the VMA limit from collect", str(m))

# the classic row of each primitive (and share) is what the others divide
classic = {(r["primitive"], r["written_pct"]): r for r in rows if r["way"] == "classic"}
bad = []
for r in rows:
    base = classic.get((r["primitive"], r["written_pct"]))
    if r["status"] != "ok" or not base or base["status"] != "ok":
        if r["ratio"] is not None:
            bad.append(r)
        continue
    if r["classic_ns"] != base["ns"] or r["ratio"] is None or \
       abs(r["ratio"] - base["ns"] / r["ns"]) > 1e-6 * r["ratio"]:
        bad.append(r)
say(not bad, "every ratio is the classic row's time over the row's own", str(bad[:3]))
say(all(r["ratio"] == 1 for r in classic.values() if r["status"] == "ok"),
    "a classic row's ratio is 1")
say(not [r for r in rows if r["primitive"] == "syscall" and r["ratio"] is not None],
    "the syscall, the unit, has no ratio")
PY
checker_results "$tmp/check"
for group in "faults" "write-protect traps" "tracking cycles over 64.0M" "every second page"; do
	ok_if "progress on stderr: $group" grep -q "^usm bench: $group" "$tmp/err"
done

# the text: the same rows, from the same table
run bench primitives --quick --runs 1
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["rows"]))' "$tmp/json")
is "the text table has the JSON's rows, under a header" "$((n + 1))" \
	"$(printf '%s\n' "$out" | sed -n '/^primitive /,$p' | wc -l)"
case $out in
*"median of 1 runs"*"load average"*"failed: ENOMEM after"*) tap_result ok "the text says how it was measured and shows the failure" ;;
*) tap_result fail "the text says how it was measured and shows the failure" "$out" ;;
esac

run bench primitives --help
is "bench primitives --help exits 0" 0 "$rc"
case $out in
usage:\ usm\ bench\ primitives*) tap_result ok "bench primitives --help prints the usage" ;;
*) tap_result fail "bench primitives --help prints the usage" "$out" ;;
esac
run help bench
is "usm help bench exits 0" 0 "$rc"
case $out in
*primitives*) tap_result ok "usm help bench names primitives" ;;
*) tap_result fail "usm help bench names primitives" "$out" ;;
esac

# usage_error NAME ARGS...: exit 2 with one line "usm: bench: ..."
usage_error() {
	name=$1; shift
	run "$@"
	if [ "$rc" = 2 ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
	   [ "${err#usm: bench: }" != "$err" ]; then
		tap_result ok "$name: one line, exit 2"
	else
		tap_result fail "$name: one line, exit 2" "rc=$rc out=$out err=$err"
	fi
}
usage_error "an unknown option" bench primitives --bogus
usage_error "a missing value" bench primitives --runs
usage_error "--runs 0" bench primitives --runs 0
usage_error "--size below 4M" bench primitives --size 1M
usage_error "--size not a size" bench primitives --size lots
usage_error "--size not whole pages" bench primitives --size 4194305
usage_error "an extra argument" bench primitives extra
usage_error "no benchmark named" bench
usage_error "an unknown benchmark" bench nosuch

done_testing
