#!/bin/sh
# Slowdown of a real program under usm trace, beside Valgrind DHAT, as
# ratios to the same program's native run measured in the same script.
# The program is Duktape (duktape-dev) running tests/integration/trace/
# workload.js N times; each row is the best of RUNS runs (wall clock).
# Not part of make check.
#
#   bench/trace.sh [--n N] [--runs RUNS] [BUILD_DIR]    (default: N=5, RUNS=3, build)
set -eu
n=5
runs=3
while [ $# -gt 0 ]; do
	case $1 in
	--n) n=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h | --help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "bench/trace.sh: unknown option '$1'" >&2; exit 2 ;;
	*) break ;;
	esac
done
build=${1:-build}
usm=$build/tools/usm/usm
root=$(cd "$(dirname "$0")/.." && pwd)
duk=/usr/share/duktape
script=$root/tests/integration/trace/workload.js
[ -x "$usm" ] || { echo "bench/trace.sh: no $usm (run make first)" >&2; exit 1; }
[ -f "$duk/duktape.c" ] || { echo "bench/trace.sh: no $duk/duktape.c (scripts/deps.sh)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# DWARF 4: Valgrind 3.19 cannot read clang 14's DWARF 5
flags="-O1 -gdwarf-4 -I$duk"
clang $flags "$root/tests/integration/trace/duk_driver.c" "$duk/duktape.c" -lm -o "$tmp/native"
"$usm" cc $flags "$root/tests/integration/trace/duk_driver.c" "$duk/duktape.c" -lm -o "$tmp/traced"
want=$("$tmp/native" "$script" "$n")

now() { date +%s.%N; }
best= # best LABEL COMMAND...: prints the best wall time of RUNS runs
best() {
	label=$1; shift
	b=
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(now)
		got=$("$@" 2>/dev/null)
		t1=$(now)
		[ "$got" = "$want" ] || { echo "bench/trace.sh: $label printed '$got'" >&2; exit 1; }
		t=$(awk "BEGIN { print $t1 - $t0 }")
		if [ -z "$b" ] || awk "BEGIN { exit !($t < $b) }"; then b=$t; fi
		i=$((i + 1))
	done
	echo "$b"
}

base=$(best native "$tmp/native" "$script" "$n")
row() { # row LABEL SECONDS
	printf '%-44s %9.3f s %8.1fx\n' "$1" "$2" "$(awk "BEGIN { print $2 / $base }")"
}
echo "Duktape, workload.js x$n, best of $runs (wall clock), ratio to native"
row "native (clang -O1)" "$base"
row "usm cc build, not traced" "$(best passive "$tmp/traced" "$script" "$n")"
row "usm trace, uninstrumented build (objects only)" \
	"$(best preload "$usm" trace -o "$tmp/c.capmap" -- "$tmp/native" "$script" "$n")"
row "usm trace --log-access off (usm cc build)" \
	"$(best noacc "$usm" trace --log-access off -o "$tmp/a.capmap" -- "$tmp/traced" "$script" "$n")"
usm_full=$(best usm "$usm" trace -o "$tmp/b.capmap" -- "$tmp/traced" "$script" "$n")
row "usm trace (objects and every access)" "$usm_full"
dhat=$(best dhat valgrind --tool=dhat --dhat-out-file="$tmp/dhat.json" "$tmp/native" "$script" "$n")
row "valgrind --tool=dhat" "$dhat"
printf 'usm trace / DHAT: %.2f; CAPMAP %s bytes\n' "$(awk "BEGIN { print $usm_full / $dhat }")" \
	"$(wc -c <"$tmp/b.capmap")"
