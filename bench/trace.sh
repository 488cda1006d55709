#!/bin/sh
# Slowdown of real programs under usm trace, beside Valgrind DHAT, as
# ratios to the same program's native run measured in the same script.
# Two programs at opposite ends: Duktape (duktape-dev) running
# tests/integration/trace/workload.js N times (an interpreter: 600 000
# allocations, 155 million loads and stores, a new (object, IP) pair every
# tenth access), and bench/stb_png.c (libstb-dev: PNG encode, decode and
# resize of a SIDE x SIDE image, twice: few objects, tight loops). Each row
# is the best of RUNS runs (wall clock). Two builds by usm cc: outline
# (usm cc --outline, a call per access) and inline (the usm trace pass,
# usm cc's default). The "floor" row is the outline build with callbacks
# that only return (bench/trace_floor.c): what the calls alone cost. Not
# part of make check.
#
#   bench/trace.sh [--n N] [--side SIDE] [--runs RUNS] [--program duktape|stb|both] [BUILD_DIR]
#   (default: N=5, SIDE=768, RUNS=3, both, build)
set -eu
. "$(dirname "$0")/common.sh"
n=5
side=768
runs=3
program=both
while [ $# -gt 0 ]; do
	case $1 in
	--n) n=$2; shift 2 ;;
	--side) side=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--program) program=$2; shift 2 ;;
	-h | --help) bench_help 15 ;;
	-*) bench_bad_option "$1" ;;
	*) break ;;
	esac
done
case $program in duktape | stb | both) ;; *) echo "bench/trace.sh: --program: duktape, stb or both" >&2; exit 2 ;; esac
build=${1:-build}
usm=$build/tools/usm/usm
root=$(cd "$(dirname "$0")/.." && pwd)
duk=/usr/share/duktape
bench_need "run make first" "$usm"
bench_need "run scripts/deps.sh" "$duk/duktape.c" /usr/include/stb/stb_image.h

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# DWARF 4: Valgrind 3.19 cannot read clang 14's DWARF 5
flags="-O1 -gdwarf-4"

# builds NAME SOURCES...: $tmp/NAME.native, .traced (usm cc --outline),
# .inline (usm cc) and .floor
builds() {
	name=$1; shift
	clang $flags "$@" -lm -o "$tmp/$name.native"
	"$usm" cc --outline $flags "$@" -lm -o "$tmp/$name.traced"
	"$usm" cc $flags "$@" -lm -o "$tmp/$name.inline"
	mkdir -p "$tmp/$name.o"
	(cd "$tmp/$name.o" && "$root/$usm" cc --outline $flags -c "$@")
	clang "$tmp/$name.o"/*.o "$root/bench/trace_floor.c" -lm -o "$tmp/$name.floor"
}

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

row() { # row LABEL SECONDS
	printf '%-50s %9.3f s %8.1fx\n' "$1" "$2" "$(awk "BEGIN { print $2 / $base }")"
}

# measure TITLE NAME ARGS...: every row for one program
measure() {
	title=$1 name=$2; shift 2
	bin=$tmp/$name
	want=$("$bin.native" "$@")
	base=$(best native "$bin.native" "$@")
	echo "$title, best of $runs (wall clock), ratio to native"
	row "native (clang $flags)" "$base"
	floor=$(best floor "$bin.floor" "$@")
	row "floor: usm cc build, callbacks that only return" "$floor"
	row "outline build, not traced" "$(best passive "$bin.traced" "$@")"
	objs=$(best objects "$usm" trace -o "$tmp/o.capmap" -- "$bin.native" "$@")
	row "usm trace, uninstrumented build (objects only)" "$objs"
	row "usm trace --log-access off (outline build)" \
		"$(best noacc "$usm" trace --log-access off -o "$tmp/a.capmap" -- "$bin.traced" "$@")"
	full=$(best usm "$usm" trace -o "$tmp/b.capmap" -- "$bin.traced" "$@")
	row "usm trace (outline build, every access)" "$full"
	ipass=$(best ipassive "$bin.inline" "$@")
	row "inline build, not traced" "$ipass"
	iobjs=$(best iobjects "$usm" trace --log-access off -o "$tmp/ia.capmap" -- "$bin.inline" "$@")
	row "usm trace --log-access off (inline build)" "$iobjs"
	ifull=$(best inline "$usm" trace -o "$tmp/ib.capmap" -- "$bin.inline" "$@")
	row "usm trace (inline build, every access)" "$ifull"
	dhat=$(best dhat valgrind --tool=dhat --dhat-out-file="$tmp/dhat.json" "$bin.native" "$@")
	row "valgrind --tool=dhat" "$dhat"
	awk -v o="$objs" -v f="$full" -v fl="$floor" -v d="$dhat" -v b="$base" \
		-v io="$iobjs" -v if_="$ifull" 'BEGIN {
		printf "slowdown / DHAT'"'"'s: objects only %.2f, every access: outline %.2f, inline %.2f; floor %.2f; inline objects only %.2f\n",
			(o / b) / (d / b), (f / b) / (d / b), (if_ / b) / (d / b), (fl / b) / (d / b), (io / b) / (d / b) }'
	printf 'CAPMAP of the full trace: outline %s bytes, %s access lines; inline %s bytes, %s access lines\n\n' \
		"$(wc -c <"$tmp/b.capmap")" "$(grep -c '^  ' "$tmp/b.capmap" || true)" \
		"$(wc -c <"$tmp/ib.capmap")" "$(grep -c '^  ' "$tmp/ib.capmap" || true)"
}

if [ "$program" != stb ]; then
	builds duk "$root/tests/integration/trace/duk_driver.c" "$duk/duktape.c" -I"$duk"
	measure "Duktape, workload.js x$n" duk "$root/tests/integration/trace/workload.js" "$n"
fi
if [ "$program" != duktape ]; then
	builds stb "$root/bench/stb_png.c"
	measure "stb PNG round trip, ${side}x$side x2" stb "$side" 2
fi
