#!/bin/sh
# What recording kernel objects costs a program that makes them fast: the
# pipe loop of tests/integration/progs/ktrace_pipes.c (pipe, close, close:
# nine kernel objects allocated and freed each time), in pipes per second,
# untraced, under usm ktrace, and under perf record on the same kmem
# tracepoints (perf_same) and on all of kmem:* (perf_kmem_all, the usual
# command line); the slowdown column is the untraced rate over the traced
# one, measured in the same script, best of RUNS runs of PIPES pipes each,
# the rows interleaved run by run so that a busy moment of the machine hits
# all; the median and spread columns are the median, lowest and highest of
# the runs' own ratios (each run's traced rate against the same run's
# untraced one), steadier than the best-of ratio on a busy machine.
# The lost column is the events usm ktrace counted lost in its best run
# (perf's own count is in its output). Not part of make check. Needs root;
# the perf rows are left out without perf (linux-perf).
#
#   bench/ktrace.sh [--runs RUNS] [--pipes PIPES] [BUILD_DIR]
#   (BUILD_DIR default: build)
set -eu
. "$(dirname "$0")/common.sh"
runs=5
pipes=200000
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--pipes) pipes=$2; shift 2 ;;
	-h | --help) bench_help 18 ;;
	-*) bench_bad_option "$1" ;;
	*) break ;;
	esac
done
build=${1:-build}
usm=$build/tools/usm/usm
prog=$build/tests/integration/ktrace_pipes
bench_need "run make first" "$usm" "$prog"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

same=kmem:kmalloc,kmem:kfree,kmem:kmem_cache_alloc,kmem:kmem_cache_free
same=$same,kmem:mm_page_alloc,kmem:mm_page_free,kmem:mm_page_free_batched
rows="none usm"
command -v perf >/dev/null && perf record -q -o "$tmp/p" -e kmem:kfree -- true 2>/dev/null &&
	rows="$rows perf_same perf_kmem_all"

# one ROW: runs the loop traced that way; prints its pipes per second
one() {
	case $1 in
	none) "$prog" "$pipes" rate 2>"$tmp/rate" ;;
	usm) "$usm" ktrace -o "$tmp/k.capmap" -- "$prog" "$pipes" rate 2>"$tmp/rate" ;;
	perf_same) perf record -q -o "$tmp/p" -e "$same" -- "$prog" "$pipes" rate 2>"$tmp/rate" ;;
	perf_kmem_all)
		perf record -q -o "$tmp/p" -e 'kmem:*' -- "$prog" "$pipes" rate 2>"$tmp/rate" ;;
	esac
	sed -n 's/^\([0-9]*\) pipes\/s$/\1/p' "$tmp/rate"
}

for r in $rows; do echo 0 >"$tmp/best.$r"; : >"$tmp/ratios.$r"; echo - >"$tmp/lost.$r"; done
for i in $(seq "$runs"); do
	for r in $rows; do
		v=$(one "$r")
		if [ "$v" -gt "$(cat "$tmp/best.$r")" ]; then
			echo "$v" >"$tmp/best.$r"
			[ "$r" = usm ] && sed -n 's/^# lost_events=//p' "$tmp/k.capmap" >"$tmp/lost.$r"
		fi
		[ "$r" = none ] && base_run=$v
		echo "$base_run $v" | awk '{ printf "%.2f\n", $1 / $2 }' >>"$tmp/ratios.$r"
	done
done
base=$(cat "$tmp/best.none")
printf '%-14s %10s %9s %7s  %-18s %s\n' tracer pipes/s slowdown median "spread ($runs runs)" lost
for r in $rows; do
	v=$(cat "$tmp/best.$r")
	spread=$(sort -n "$tmp/ratios.$r" | sed -n '1p;$p' | tr '\n' ' ' |
		awk '{ printf "%.2fx-%.2fx", $1, $2 }')
	median=$(sort -n "$tmp/ratios.$r" | awk '{ v[NR] = $1 } END {
		printf "%.2fx", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	printf '%-14s %10s %8.2fx %7s  %-18s %s\n' "$r" "$v" \
		"$(echo "$base $v" | awk '{ printf "%.2f", $1 / $2 }')" "$median" "$spread" \
		"$(cat "$tmp/lost.$r")"
done
