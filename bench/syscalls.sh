#!/bin/sh
# What observing costs a syscall-heavy program: the pread loop of
# tests/integration/progs/syscalls_hot.c (pread64 of 64 bytes from a file
# in /dev/shm), in calls per second, unobserved and under each observer;
# the slowdown column is the unobserved rate over the observed one, measured
# in the same script, best of RUNS runs of SECS seconds each, the rows
# interleaved run by run so that a busy moment of the machine hits all;
# the spread column is the lowest and highest of the runs' own ratios
# (each run's observed rate against the same run's unobserved one).
# usm is usm syscalls as it starts by default (--duty, docs/syscalls.md),
# usm_full with --duty 100 (every syscall observed); --duties "1 50" adds
# a row usm_dutyN for each N.
# Not part of make check. Needs root; strace and perf (linux-perf) rows
# are left out when those tools are missing.
#
#   bench/syscalls.sh [--runs RUNS] [--secs SECS] [--duties LIST] [BUILD_DIR]
#   (BUILD_DIR default: build)
set -eu
. "$(dirname "$0")/common.sh"
runs=5
secs=2
duties=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--secs) secs=$2; shift 2 ;;
	--duties) duties=$2; shift 2 ;;
	-h | --help) bench_help 17 ;;
	-*) bench_bad_option "$1" ;;
	*) break ;;
	esac
done
build=${1:-build}
usm=$build/tools/usm/usm
prog=$build/tests/integration/syscalls_hot
bench_need "run make first" "$usm" "$prog"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rows="none usm usm_full"
for d in $duties; do rows="$rows usm_duty$d"; done
command -v strace >/dev/null && rows="$rows strace strace_seccomp"
command -v perf >/dev/null && perf trace -s -o /dev/null -- true 2>/dev/null && rows="$rows perf_trace"

# one ROW: runs the loop observed that way; prints its calls per second
one() {
	case $1 in
	none) "$prog" "$secs" pread 2>"$tmp/rate" ;;
	usm) "$usm" syscalls -- "$prog" "$secs" pread >"$tmp/obs" 2>"$tmp/rate" ;;
	usm_full)
		"$usm" syscalls --duty 100 -- "$prog" "$secs" pread >"$tmp/obs" 2>"$tmp/rate" ;;
	usm_duty*)
		"$usm" syscalls --duty "${1#usm_duty}" -- "$prog" "$secs" pread >"$tmp/obs" \
			2>"$tmp/rate" ;;
	strace) strace -c -f -o "$tmp/obs" "$prog" "$secs" pread 2>"$tmp/rate" ;;
	strace_seccomp)
		strace -c -f --seccomp-bpf -e trace=pread64 -o "$tmp/obs" "$prog" "$secs" pread \
			2>"$tmp/rate" ;;
	perf_trace) perf trace -s -o "$tmp/obs" -- "$prog" "$secs" pread 2>"$tmp/rate" ;;
	esac
	sed -n 's/^\([0-9]*\) calls\/s$/\1/p' "$tmp/rate"
}

for r in $rows; do echo 0 >"$tmp/best.$r"; : >"$tmp/ratios.$r"; done
for i in $(seq "$runs"); do
	for r in $rows; do
		v=$(one "$r")
		[ "$v" -gt "$(cat "$tmp/best.$r")" ] && echo "$v" >"$tmp/best.$r"
		[ "$r" = none ] && base_run=$v
		echo "$base_run $v" | awk '{ printf "%.2f\n", $1 / $2 }' >>"$tmp/ratios.$r"
	done
done
base=$(cat "$tmp/best.none")
printf '%-16s %12s %9s  %s\n' observer calls/s slowdown "spread ($runs runs)"
for r in $rows; do
	v=$(cat "$tmp/best.$r")
	spread=$(sort -n "$tmp/ratios.$r" | sed -n '1p;$p' | tr '\n' ' ' |
		awk '{ printf "%.2fx-%.2fx", $1, $2 }')
	printf '%-16s %12s %8.2fx  %s\n' "$r" "$v" \
		"$(echo "$base $v" | awk '{ printf "%.2f", $1 / $2 }')" "$spread"
done
