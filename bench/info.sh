#!/bin/sh
# Speed of usm info on one process with MIB MiB resident (a quarter of one
# content, a quarter of pairs, half unique pages: tests/integration/progs/
# info_pages.c), in pages per second, best of RUNS runs. Each row is one
# way of getting the same line; the ratio column compares it with the
# first row, measured in the same run. Not part of make check.
#
#   bench/info.sh [--mib MIB] [--runs RUNS] [BUILD_DIR]    (default: build)
#
# Add a row with: measure "LABEL" COMMAND... (it must print the same line as
# usm info mi_bench: the helper runs as mi_bench, alone with that name).
set -eu
. "$(dirname "$0")/common.sh"
mib=1024
runs=5
while [ $# -gt 0 ]; do
	case $1 in
	--mib) mib=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h | --help) bench_help 11 ;;
	-*) bench_bad_option "$1" ;;
	*) break ;;
	esac
done
build=${1:-build}
usm=$build/tools/usm/usm
helper=$build/tests/integration/info_pages
bench_need "run make first" "$usm" "$helper"

tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cp "$helper" "$tmp/mi_bench"
"$tmp/mi_bench" bench "$mib" >"$tmp/said" &
pid=$!
until grep -q '^ready' "$tmp/said"; do
	kill -0 "$pid" 2>/dev/null || { echo "bench/info.sh: the helper died" >&2; exit 1; }
	sleep 0.1
done

want=$("$usm" info mi_bench)
pages=$(printf '%s\n' "$want" | sed -n 's/.* valid: \([0-9]*\),.*/\1/p')
# The helper's layout fixes the groups: its quarter of one content, its
# pairs, and the few zero pages every helper has.
quarter=$((mib * 256 / 4))
mbs=$(printf '%s\n' "$want" | sed -n 's/.* may_be_shared: \([0-9]*\),.*/\1/p')
[ "$mbs" -ge $((2 * quarter)) ] && [ "$mbs" -le $((2 * quarter + 16)) ] ||
	{ echo "bench/info.sh: unexpected figures: $want" >&2; exit 1; }

now() { date +%s%N; }
first=
measure() { # measure LABEL COMMAND...: best of $runs, and the line it printed must be $want
	label=$1; shift
	best=
	for _ in $(seq "$runs"); do
		t0=$(now)
		got=$("$@")
		t1=$(now)
		[ "$got" = "$want" ] || { echo "bench/info.sh: $label printed: $got" >&2; exit 1; }
		t=$((t1 - t0))
		[ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
	done
	[ -n "$first" ] || first=$best
	awk -v l="$label" -v t="$best" -v p="$pages" -v f="$first" 'BEGIN {
		printf "%-34s %9.3f %12.0f %7.2f\n", l, t / 1e9, p / (t / 1e9), t / f }'
}

echo "usm info, $mib MiB resident ($pages valid pages), best of $runs runs"
printf '%-34s %9s %12s %7s\n' "way" "seconds" "pages/s" "ratio"
measure "usm info (PAGEMAP_SCAN)" "$usm" info mi_bench
measure "usm info --no-pagemap-scan" "$usm" info --no-pagemap-scan mi_bench
