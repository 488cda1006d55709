#!/bin/sh
# What observing costs a syscall-heavy program: the pread loop of
# tests/integration/progs/syscalls_hot.c (pread64 of 64 bytes from a file
# in /dev/shm), in calls per second, unobserved and under each observer;
# the ratio column is the unobserved rate over the observed one, measured
# in the same script, best of RUNS runs of SECS seconds each, the rows
# interleaved run by run so that a busy moment of the machine hits all.
# Not part of make check. Needs root; strace and perf (linux-perf) rows
# are left out when those tools are missing.
#
#   bench/syscalls.sh [--runs RUNS] [--secs SECS] [BUILD_DIR]   (default: build)
set -eu
. "$(dirname "$0")/common.sh"
runs=5
secs=2
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--secs) secs=$2; shift 2 ;;
	-h | --help) bench_help 12 ;;
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

rows="none usm"
command -v strace >/dev/null && rows="$rows strace strace_seccomp"
command -v perf >/dev/null && perf trace -s -o /dev/null -- true 2>/dev/null && rows="$rows perf_trace"

# one ROW: runs the loop observed that way; prints its calls per second
one() {
	case $1 in
	none) "$prog" "$secs" pread 2>"$tmp/rate" ;;
	usm) "$usm" syscalls -- "$prog" "$secs" pread >"$tmp/obs" 2>"$tmp/rate" ;;
	strace) strace -c -f -o "$tmp/obs" "$prog" "$secs" pread 2>"$tmp/rate" ;;
	strace_seccomp)
		strace -c -f --seccomp-bpf -e trace=pread64 -o "$tmp/obs" "$prog" "$secs" pread \
			2>"$tmp/rate" ;;
	perf_trace) perf trace -s -o "$tmp/obs" -- "$prog" "$secs" pread 2>"$tmp/rate" ;;
	esac
	sed -n 's/^\([0-9]*\) calls\/s$/\1/p' "$tmp/rate"
}

for r in $rows; do echo 0 >"$tmp/best.$r"; done
for i in $(seq "$runs"); do
	for r in $rows; do
		v=$(one "$r")
		[ "$v" -gt "$(cat "$tmp/best.$r")" ] && echo "$v" >"$tmp/best.$r"
	done
done
base=$(cat "$tmp/best.none")
printf '%-16s %12s %9s\n' observer calls/s slowdown
for r in $rows; do
	v=$(cat "$tmp/best.$r")
	printf '%-16s %12s %8.2fx\n' "$r" "$v" "$(echo "$base $v" | awk '{ printf "%.2f", $1 / $2 }')"
done
