#!/bin/sh
# usm cc + usm trace: exact CAPMAPs of programs whose accesses are known,
# the controls of a running traced process, fork, and usm trace report on
# good, corrupt and truncated CAPMAPs.
set -u
usm=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
tmp=$(mktemp -d); trap 'exec 3>&- 4<&-; rm -rf "$tmp"' EXIT

run() { # run ARGS... ; sets rc, out (stdout), err (stderr)
	"$usm" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}

# objs CAPMAP SIZE: the object lines of that size; writes (reads) CAPMAP
# SIZE: the writes (reads) counted on them
objs() { awk -F, -v s="$2" '!/^ / && $4 == s' "$1"; }
counted() { # counted FIELD CAPMAP SIZE
	awk -F, -v f="$1" -v s="$3" '!/^ / { cur = ($4 == s) } /^ / && cur { n += $f } END { print n + 0 }' "$2"
}
writes() { counted 2 "$@"; }
reads() { counted 3 "$@"; }

# --- usm cc ---------------------------------------------------------------
run cc --help
is "cc --help exits 0" 0 "$rc"
ok_if "cc --help shows its usage" grep -q '^usage: usm cc' "$tmp/out"
run cc
is "cc without arguments is a usage error" 2 "$rc"
run trace --help
is "trace --help exits 0" 0 "$rc"
run trace ctl --help
is "trace ctl --help exits 0" 0 "$rc"
run trace report --help
is "trace report --help exits 0" 0 "$rc"
run trace
is "trace without a command is a usage error" 2 "$rc"
run trace --enabled maybe -- true
is "trace --enabled maybe is a usage error" 2 "$rc"
is "  ... in one line" 1 "$(wc -l <"$tmp/err")"
run trace -- "$tmp/does-not-exist"
is "trace of a missing program exits 127" 127 "$rc"
ok_if "  ... and says so" grep -q "^usm: trace: cannot run" "$tmp/err"
# The runtime's index needs 256 MiB of address space reserved: without it,
# one line says so and the program runs untraced (usm itself may be an
# ASan build that a small ulimit -v would stop, so the runtime runs alone).
rtlib=$(cd "$(dirname "$usm")/../../runtime/trace" && pwd)/libusm-trace.so
(ulimit -v 200000 && USM_TRACE_ACTIVE=1 USM_TRACE_OUTPUT="$tmp/lim.capmap" LD_PRELOAD="$rtlib" \
	/bin/true) 2>"$tmp/err"
is "under ulimit -v 200000 the program still runs" 0 "$?"
is "  ... with one line saying it is not traced" \
	"usm: trace: cannot reserve address space for the object index (ulimit -v?): not tracing" \
	"$(cat "$tmp/err")"
ok_if "  ... and no CAPMAP" test ! -e "$tmp/lim.capmap"

run cc -O0 -g -pthread "$here/trace/pattern.c" -o "$tmp/pattern"
is "usm cc builds the pattern program" 0 "$rc"
[ "$rc" -eq 0 ] || printf '%s\n' "$err" | sed 's/^/#   /'
run cc -O0 -g "$here/trace/phases.c" -o "$tmp/phases"
is "usm cc builds the phases program" 0 "$rc"

# --- exact CAPMAP of a known pattern ------------------------------------------
run trace -o "$tmp/p.capmap" -- "$tmp/pattern" "$tmp/p.addrs"
is "traced pattern program exits 0" 0 "$rc"
is "traced pattern program prints what it does untraced" "sum 5 total 4000" "$out"
is "nothing on stderr" "" "$err"
ok_if "the CAPMAP has a maps copy beside it" test -s "$tmp/p.capmap.maps"
run trace report --json --top 5 "$tmp/p.capmap"
is "report --json exits 0" 0 "$rc"
cp "$tmp/out" "$tmp/p.json"
python3 "$here/trace/check_pattern.py" "$tmp/p.capmap" "$tmp/p.addrs" "$tmp/p.json" \
	"$here/trace/pattern.c" >"$tmp/checks" 2>&1 || echo "not ok checker ran: $(cat "$tmp/checks")" >>"$tmp/checks"
checker_results "$tmp/checks"
run trace report "$tmp/p.capmap"
is "report exits 0" 0 "$rc"
ok_if "report names the busiest object first" sh -c "sed -n '5p' '$tmp/out' | grep -q 'g_counts'"
ok_if "report symbolizes sites to file:line" grep -q 'main (.*pattern.c:[0-9]*)' "$tmp/out"
ok_if "report lists the 4 thread objects as one site" grep -Eq '^ +4 +256 +0 +32 .* worker \(.*pattern.c' "$tmp/out"

"$tmp/pattern" >"$tmp/native" 2>&1
is "the instrumented program runs as usual outside usm trace" "sum 5 total 4000" "$(cat "$tmp/native")"

run trace --json -o "$tmp/p.json.capmap" -- "$tmp/pattern"
ok_if "--json writes valid JSON with the same objects" python3 - "$tmp/p.json.capmap" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sizes = sorted(o["size"] for o in d["objects"] if o["allocator"] != "global" and o["size"] in (400, 16, 40, 32, 256, 8192, 1048576))
assert sizes == [16, 32, 40, 256, 400, 400, 8192, 1048576], sizes
g = [o for o in d["objects"] if o["allocator"] == "global" and o["size"] == 256]
assert sum(a["reads"] for a in g[0]["accesses"]) == 4004, g
PY

run trace --log-access off -o "$tmp/noacc.capmap" -- "$tmp/pattern"
ok_if "--log-access off records objects but no access" sh -c \
	"grep -q ',400,.*,calloc,' '$tmp/noacc.capmap' && ! grep -q '^ ' '$tmp/noacc.capmap'"

run trace -o "$tmp/no/such/dir/x.capmap" -- "$tmp/pattern"
is "an unwritable --output: the program's own exit status" 0 "$rc"
ok_if "  ... and one line saying why" sh -c "grep -q '^usm: trace: cannot write .*: No such file or directory' '$tmp/err'"

# --- usm c++ -------------------------------------------------------------------
run c++ -O0 -g "$here/trace/objects.cc" -o "$tmp/objects"
is "usm c++ builds a C++ program" 0 "$rc"
run trace -o "$tmp/cxx.capmap" -- "$tmp/objects"
is "the traced C++ program runs" "100 7" "$out"
run trace report "$tmp/cxx.capmap"
ok_if "new[] is charged to the line that said new, with its 8 writes" grep -Eq \
	"^ +1 +128 +[0-9]+ +8 .* main \(.*objects.cc:$(grep -n 'SITE:new' "$here/trace/objects.cc" | cut -d: -f1)\)" "$tmp/out"

# --- controls of a running process -------------------------------------------
mkfifo "$tmp/in" "$tmp/outp"
"$usm" trace --enabled off -o "$tmp/c.capmap" -- "$tmp/phases" <"$tmp/in" >"$tmp/outp" 2>"$tmp/perr" &
pid=$!
exec 3>"$tmp/in" 4<"$tmp/outp"
say() { echo "$1" >&3; read -r reply <&4; }
ctl() { "$usm" trace ctl "$pid" "$@" >"$tmp/ctl.out" 2>"$tmp/ctl.err"; ctl_rc=$?; }
say nop
ctl status
is "ctl status answers" 0 "$ctl_rc"
ok_if "  ... and shows enabled off" grep -q 'enabled=off' "$tmp/ctl.out"
say "alloc 111"; say "touch 111 10"
ctl enabled on
is "ctl enabled on" 0 "$ctl_rc"
say "alloc 222"; say "touch 222 20"; say "alloc 444"; say "touch 444 3"; say "free 444"
ctl enabled off
say "alloc 333"; say "touch 333 30"; say "touch 222 7"
ctl enabled 1
say "alloc 555"; say "alloc 666"; say "free 666"
ctl clear_dead_objs
is "ctl clear_dead_objs" 0 "$ctl_rc"
ctl dump "$tmp/d1"
is "ctl dump" 0 "$ctl_rc"
ok_if "  ... says how many objects it wrote where" grep -q "objects to $tmp/d1" "$tmp/ctl.out"
is "disabled phase before: its object is not recorded" "" "$(objs "$tmp/d1" 111)"
is "enabled phase: its object is recorded" 1 "$(objs "$tmp/d1" 222 | wc -l)"
is "enabled phase: exactly its writes" 20 "$(writes "$tmp/d1" 222)"
is "disabled phase after: its object is not recorded" "" "$(objs "$tmp/d1" 333)"
is "clear_dead_objs dropped the freed objects" "" "$(objs "$tmp/d1" 444)$(objs "$tmp/d1" 666)"
is "clear_dead_objs kept the live ones" 1 "$(objs "$tmp/d1" 555 | wc -l)"
say "alloc 777"; say "free 777"
ctl dump "$tmp/d2"
is "a freed object is in the next dump" 1 "$(objs "$tmp/d2" 777 | wc -l)"
ctl dump "$tmp/d3"
is "  ... and not in the one after (printed list)" "" "$(objs "$tmp/d3" 777)"
ctl print_live_obj off
ctl dump "$tmp/d4"
is "print_live_obj off: live objects left out" "" "$(objs "$tmp/d4" 555)"
ctl print_live_obj on
ctl clear_printed_list
is "ctl clear_printed_list" 0 "$ctl_rc"
ctl log_access off
say "touch 555 9"
ctl log_access on
say "touch 555 4"
ctl dump "$tmp/d5"
is "log_access off: accesses in between not counted" 4 "$(writes "$tmp/d5" 555)"

ctl enabled maybe
is "malformed value: exit 1" 1 "$ctl_rc"
ok_if "  ... one line naming the problem" sh -c "[ \$(wc -l <'$tmp/ctl.err') -eq 1 ] && grep -q \"^usm: trace: ctl: 'enabled' takes one value, on or off\" '$tmp/ctl.err'"
ctl frobnicate
is "unknown command: exit 1" 1 "$ctl_rc"
ok_if "  ... names it" grep -q "unknown command 'frobnicate'" "$tmp/ctl.err"
ctl clear_dead_objs now
is "extra value: exit 1" 1 "$ctl_rc"
ctl dump "$tmp/no/such/dir/x"
is "dump to an unwritable path: exit 1" 1 "$ctl_rc"
ok_if "  ... says why" grep -q "cannot write" "$tmp/ctl.err"
run trace ctl "$pid"
is "ctl without a command: usage error" 2 "$rc"
run trace ctl notapid status
is "ctl with a bad pid: usage error" 2 "$rc"
run trace ctl $$ status
is "ctl to a process not traced: exit 1" 1 "$rc"
ok_if "  ... says so" grep -q "is not running under usm trace" "$tmp/err"

say "alloc 888"; say "touch 888 2"
echo "fork 999" >&3; read -r child <&4
child=${child#child }
say quit 2>/dev/null
exec 3>&- 4<&-
wait "$pid"; prc=$?
is "the controlled program exits 0" 0 "$prc"
is "  ... with nothing on stderr" "" "$(cat "$tmp/perr")"
ok_if "its final CAPMAP is written at exit" test -s "$tmp/c.capmap"
is "fork: the child's object is not in the parent's CAPMAP" "" "$(objs "$tmp/c.capmap" 999)"
ok_if "fork: the child wrote its own CAPMAP, named by its pid" test -s "$tmp/c.capmap.$child"
is "fork: the child's object, with its 5 writes" 5 "$(writes "$tmp/c.capmap.$child" 999)"
is "fork: allocated by the child's thread" "$child" "$(objs "$tmp/c.capmap.$child" 999 | cut -d, -f2)"

# --- an instrumented library in a host that is not (a Python C extension) -------
run cc -O0 -g -fPIC -shared "$here/trace/plugin.c" -o "$tmp/libplugin.so"
is "usm cc builds a shared library" 0 "$rc"
py=$(python3 -c 'import sys; print(sys.executable)')
host='import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).plugin_sum(1000))'
is "python3 loads it untraced and gets its result" 499500 \
	"$("$py" -c "$host" "$tmp/libplugin.so" 2>&1)"
run trace -o "$tmp/pl.capmap" -- "$py" -c "$host" "$tmp/libplugin.so"
is "  ... and the same under usm trace" 499500 "$out"
is "  ... where its 4000-byte object has the library's 1000 writes" 1000 \
	"$(writes "$tmp/pl.capmap" 4000)"
is "  ... and 1000 reads" 1000 "$(reads "$tmp/pl.capmap" 4000)"

# --- many threads, a fork, and dumps from outside, at once ----------------------
run cc -O1 -g -pthread "$here/trace/stress.c" -o "$tmp/stress"
is "usm cc builds the stress program" 0 "$rc"
run trace -o "$tmp/s.capmap" -- "$tmp/stress"
is "stress: 4 threads allocating and freeing, one forking: exits 0" 0 "$rc"
want=$out
run trace report --json --top 0 "$tmp/s.capmap"
got=$(python3 - "$tmp/out" "$(grep -n 'SITE:stress' "$here/trace/stress.c" | cut -d: -f1)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = [s for s in r["sites"] if (s["file"] or "").endswith("stress.c") and s["line"] == int(sys.argv[2])]
print("objects %d writes %d" % (sum(x["objects"] for x in s), sum(x["writes"] for x in s)))
PY
)
is "stress: every object and every write counted" "$want" "$got"
child_caps=$(ls "$tmp"/s.capmap.* 2>/dev/null | grep -cv '\.maps$')
is "stress: the forked child wrote its own CAPMAP" 1 "$child_caps"
# the same run, dumped from outside as often as it answers: no deadlock, and
# every dump is a valid CAPMAP (how many there are depends on the machine)
"$usm" trace -o "$tmp/s2.capmap" -- "$tmp/stress" >"$tmp/s2.out" 2>&1 &
spid=$!
n=0
while kill -0 "$spid" 2>/dev/null && [ $n -lt 200 ]; do
	"$usm" trace ctl "$spid" dump "$tmp/mid.$n.capmap" >/dev/null 2>&1
	n=$((n + 1))
done
wait "$spid"
is "stress under concurrent dumps: exits 0" 0 $?
is "  ... with the same totals printed" "$want" "$(cat "$tmp/s2.out")"
bad_dumps=0
for f in "$tmp"/mid.*.capmap; do
	[ -f "$f" ] || continue
	"$usm" trace report "$f" >/dev/null 2>&1 || bad_dumps=$((bad_dumps + 1))
done
is "  ... every dump it wrote is a valid CAPMAP" 0 "$bad_dumps"

# --- objects made by one thread, written and freed by another -------------------
run cc -O0 -g -pthread "$here/trace/handoff.c" -o "$tmp/handoff"
is "usm cc builds the handoff program" 0 "$rc"
run trace -o "$tmp/h.capmap" -- "$tmp/handoff"
is "handoff: exits 0" 0 "$rc"
set -- $out # producer tid, consumer tid, objects, writes
got=$(awk -F, -v p="$1" -v c="$2" '
	!/^ / { cur = ($4 == 72 && $2 == p); if (cur) { n++; if ($6 == 0) live++ } }
	/^ / && cur && $4 == c { w += $2 }
	/^ / && cur && $4 != c { other++ }
	END { print n + 0, w + 0, live + 0, other + 0 }' "$tmp/h.capmap")
is "handoff: every object the producer made, every write of the consumer, all freed, no other thread's counts" \
	"$3 $4 0 0" "$got"

# --- a refused mmap keeps the kernel's errno -----------------------------------
run cc -O0 -g "$here/trace/mmap_fail.c" -o "$tmp/mmap_fail"
is "usm cc builds the mmap_fail program" 0 "$rc"
run trace -o "$tmp/mf.capmap" -- "$tmp/mmap_fail"
is "a refused mmap under trace fails with the kernel's errno (EINVAL), as untraced" \
	"EINVAL" "$out"

# --- report on bad input -------------------------------------------------------
good="$tmp/p.capmap"
bad() { # bad NAME FILE: report must fail in one clear line
	"$usm" trace report "$2" >"$tmp/out" 2>"$tmp/err"; brc=$?
	is "report, $1: exit 1" 1 "$brc"
	ok_if "report, $1: one line 'usm: trace: report: ...'" sh -c \
		"[ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q '^usm: trace: report: ' '$tmp/err'"
}
# cut inside a line, as a crash or a full disk leaves a file
head -n 10 "$good" >"$tmp/trunc"
head -n 11 "$good" | tail -n 1 | cut -c 1-12 | tr -d '\n' >>"$tmp/trunc"
bad "truncated mid-line" "$tmp/trunc"
ok_if "  ... says truncated" grep -q truncated "$tmp/err"
{ cat "$good"; echo "1,2,3"; } >"$tmp/fields"
bad "too few fields" "$tmp/fields"
ok_if "  ... names the line" grep -q "line $(($(wc -l <"$good") + 1)):" "$tmp/err"
sed '1s/^[0-9a-f]*,/zz,/' "$good" >"$tmp/hex"
bad "bad hex" "$tmp/hex"
{ echo "  1,2,3,4"; cat "$good"; } >"$tmp/orphan"
bad "access line before any object" "$tmp/orphan"
sed '1s/,malloc,\|,calloc,\|,global,/,bogus,/' "$good" >"$tmp/alloc"
bad "unknown allocator" "$tmp/alloc"
head -c 4096 /bin/sh >"$tmp/binary"; echo >>"$tmp/binary"
bad "binary garbage" "$tmp/binary"
sed '2s/,[0-9]*$/,99999999999999999999999/' "$good" >"$tmp/overflow"
bad "number overflow" "$tmp/overflow"
bad "missing file" "$tmp/nope"
: >"$tmp/empty"
run trace report "$tmp/empty"
is "report of an empty CAPMAP (no objects) exits 0" 0 "$rc"
run trace report --top x "$good"
is "report --top x: usage error" 2 "$rc"

done_testing
