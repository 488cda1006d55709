#!/bin/sh
# The usm trace pass (usm cc's default) against outline mode (usm cc
# --outline): the same CAPMAP of the pattern program, exact counts where
# threads share a site and where a freed range is reused, tracing off
# costing no runtime call, and usm cc's choice of mode (a clang that is
# not 14 is refused, a missing pass falls back to outline).
set -u
usm=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run() { # run ARGS... ; sets rc, out (stdout), err (stderr)
	"$usm" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}
line_of() { grep -n "$1" "$2" | head -1 | cut -d: -f1; }

# --- outline and inline agree on the pattern program --------------------------
# each build is named pattern, as check_pattern.py expects its process name
for opt in -O0 -O1; do
	mkdir "$tmp/out$opt" "$tmp/in$opt"
	run cc --outline $opt -g -pthread "$here/trace/pattern.c" -o "$tmp/out$opt/pattern"
	is "usm cc --outline $opt builds the pattern program" 0 "$rc"
	run cc $opt -g -pthread "$here/trace/pattern.c" -o "$tmp/in$opt/pattern"
	is "usm cc $opt (the pass) builds it, nothing on stderr" "0 " "$rc $err"
	ok_if "  ... the pass's calls are in it, ASan's are not" sh -c \
		"nm '$tmp/in$opt/pattern' | grep -q ' U __usm_trace_store' && ! nm '$tmp/in$opt/pattern' | grep -q ' U __asan_store'"
	run trace -o "$tmp/out$opt.capmap" -- "$tmp/out$opt/pattern" "$tmp/out$opt.addrs"
	is "  outline build traced prints what it does untraced" "0 sum 5 total 4000" "$rc $out"
	run trace -o "$tmp/in$opt.capmap" -- "$tmp/in$opt/pattern" "$tmp/in$opt.addrs"
	is "  inline build traced prints the same" "0 sum 5 total 4000" "$rc $out"
	# Objects named by allocation site, accesses by source position
	# (file:line:column of the runtime call), threads by rank: see the
	# checker's comment.
	python3 "$here/trace/compare_modes.py" "$tmp/out$opt.capmap" "$tmp/out$opt/pattern" \
		"$tmp/in$opt.capmap" "$tmp/in$opt/pattern" >"$tmp/cmp" 2>&1 ||
		echo "not ok the comparison ran: $(cat "$tmp/cmp")" >>"$tmp/cmp"
	checker_results "$tmp/cmp" "$opt: "
done
# outline mode stays exact by itself (trace.sh checks the pass's build)
run trace report --json --top 5 "$tmp/out-O0.capmap"
cp "$tmp/out" "$tmp/p.json"
python3 "$here/trace/check_pattern.py" "$tmp/out-O0.capmap" "$tmp/out-O0.addrs" "$tmp/p.json" \
	"$here/trace/pattern.c" >"$tmp/checks" 2>&1 || echo "not ok checker ran: $(cat "$tmp/checks")" >>"$tmp/checks"
checker_results "$tmp/checks" "outline: "

# --- threads sharing one access site on one object ------------------------------
# -O0: every one of the loop's loads and stores stays an access
run cc -O0 -g -pthread "$here/trace/shared_site.c" -o "$tmp/shared"
is "usm cc builds the shared-site program" 0 "$rc"
run trace -o "$tmp/sh.capmap" -- "$tmp/shared"
is "  traced, it prints the sum of every thread's adds" "0 800000" "$rc $out"
# per worker thread, on the calloc'd object: the add's load and store
# (100000 each) and the atomic add (100000 writes), as "writes/reads" sorted
got=$(awk -F, '
	!/^ / { cur = ($8 == "calloc" && $4 == 264); owner = $2 }
	/^ / && cur && $4 != owner { c[$4] = c[$4] " " $2 "/" $3 }
	END { for (t in c) print c[t] }' "$tmp/sh.capmap" |
	while read -r l; do printf '%s\n' $l | sort | tr '\n' ' '; echo; done | sort | uniq -c |
	sed 's/^ *//')
is "  4 threads at one site of one object: every read, write and atomic counted" \
	"4 0/100000 100000/0 100000/0 " "$got"

# --- a freed range reused at the same site ---------------------------------------
run cc -O1 -g "$here/trace/reuse.c" -o "$tmp/reuse"
is "usm cc builds the reuse program" 0 "$rc"
run trace -o "$tmp/re.capmap" -- "$tmp/reuse"
is "  the second object got the first one's address" "0 reused" "$rc $out"
got=$(awk -F, '!/^ / { t = $5; cur = ($8 == "malloc" && $4 == 64) }
	/^ / && cur { ip[t] = $1; w[t] = $2; r[t] = $3 }
	END { for (k in w) print k, ip[k], w[k], r[k] }' "$tmp/re.capmap" | sort -n |
	awk '{ ips[$2] = 1; printf "%s/%s ", $3, $4 } END { printf "ips %d", length(ips) }')
is "  the first object has its 1 write, the second its 2, at one site" "1/0 2/0 ips 1" "$got"

# --- tracing off ---------------------------------------------------------------
clang -O0 -g -pthread "$here/trace/pattern.c" -o "$tmp/native"
want=$("$tmp/native" /dev/null)
is "the pass's build, not traced, prints what the native build prints" "$want" \
	"$("$tmp/in-O0/pattern" /dev/null 2>&1)"
# Not traced, the code the pass emits tests one flag and calls nothing:
# a library in front of the runtime whose slow path aborts must not stop it.
printf '%s\n' '#include <stdlib.h>' '#include <stdint.h>' \
	'void __usm_trace_load(uintptr_t a, uint64_t s) { (void)a; (void)s; abort(); }' \
	'void __usm_trace_store(uintptr_t a, uint64_t s) { (void)a; (void)s; abort(); }' >"$tmp/trap.c"
clang -shared -fPIC -o "$tmp/trap.so" "$tmp/trap.c"
got=$(LD_PRELOAD="$tmp/trap.so" "$tmp/in-O0/pattern" /dev/null 2>&1; echo "rc $?")
is "  ... and never calls the runtime's slow path" "$want
rc 0" "$got"
run trace --enabled off -o "$tmp/off.capmap" -- "$tmp/in-O0/pattern" /dev/null
is "traced with --enabled off, it prints the same" "0 $want" "$rc $out"
is "  ... and its CAPMAP counts no access" 0 "$(grep -c '^  ' "$tmp/off.capmap")"
run trace --log-access off -o "$tmp/noacc.capmap" -- "$tmp/in-O0/pattern" /dev/null
is "traced with --log-access off: the same output, objects and no access" "0 $want 0" \
	"$rc $out $(grep -c '^  ' "$tmp/noacc.capmap")"

# --- choosing the mode ---------------------------------------------------------
cat >"$tmp/clang15" <<'EOF'
#!/bin/sh
# a clang that says it is 15
[ "$1" = -dumpversion ] && { echo 15.0.7; exit 0; }
exec clang "$@"
EOF
chmod +x "$tmp/clang15"
USM_CC="$tmp/clang15" run cc -O0 "$here/trace/reuse.c" -o "$tmp/r15"
is "a clang that is not 14 is refused" 1 "$rc"
is "  ... in one line" \
	"usm: cc: '$tmp/clang15' is clang 15, the usm trace pass is built for LLVM 14: use clang-14 (\$USM_CC) or usm cc --outline" \
	"$err"
USM_CC="$tmp/clang15" run cc --outline -O0 "$here/trace/reuse.c" -o "$tmp/r15"
is "  ... and --outline builds with it" "0 " "$rc $err"
USM_TRACE_PASS="$tmp/none.so" run cc -O0 "$here/trace/reuse.c" -o "$tmp/rnone"
is "without the pass, usm cc builds in outline mode" 0 "$rc"
is "  ... and says so in one line" \
	"usm: cc: the usm trace pass (libusm-tracepass.so) is not found (set USM_TRACE_PASS): outline mode" \
	"$err"
ok_if "  ... the build calls ASan's callbacks" sh -c "nm '$tmp/rnone' | grep -q ' U __asan_store'"

done_testing
