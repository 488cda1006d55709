#!/bin/sh
# Speed of a memory_info.ko RESET against usm info, in one QEMU guest
# (modules do not load on the host): one process with MIB MiB resident (a
# quarter one content, a quarter pairs, half unique pages: tests/
# integration/progs/info_pages.c), pages per second, best of RUNS runs. The
# guest runs under software emulation, so only the ratio of the two rows,
# measured in the same guest, means something. Not part of make check.
#
#   bench/memory_info_guest.sh [--mib MIB] [--runs RUNS] [--memory MB] [BUILD_DIR]
#       (default: MIB=1024, RUNS=3, MB=2048, BUILD_DIR=build; needs make and make kmod)
set -eu
. "$(dirname "$0")/common.sh"
mib=1024
runs=3
memory=2048
while [ $# -gt 0 ]; do
	case $1 in
	--mib) mib=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--memory) memory=$2; shift 2 ;;
	-h | --help) bench_help 10 ;;
	-*) bench_bad_option "$1" ;;
	*) break ;;
	esac
done
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
usm=$build/tools/usm/usm
ko=$root/kmod/memory_info/memory_info.ko
bench_need "run make and make kmod" "$usm" "$ko"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The guest script: each figure on a "# bench ..." line, which boot-test
# passes through. The usm line must equal the module's, or the bench fails.
cat >"$tmp/bench.sh" <<EOF
. /usm/guest-lib.sh
mib=$mib runs=$runs
EOF
cat >>"$tmp/bench.sh" <<'EOF'
MI=/proc/memory_info
cp /usm/bin/info_pages /tmp/mi_bench
/tmp/mi_bench bench $mib > /tmp/said &
bench=$!
until grep -q '^ready' /tmp/said; do
	kill -0 $bench 2>/dev/null || { echo "not ok - the helper died"; exit 1; }
	sleep 1
done
check "insmod memory_info.ko" insmod /usm/memory_info.ko

now() { echo ${EPOCHREALTIME/./}; }	# microseconds
# best CMD...: the shortest of $runs runs of CMD, in microseconds.
best() {
	b=
	for i in $(seq $runs); do
		t0=$(now); "$@" > /dev/null; t1=$(now)
		t=$((t1 - t0))
		[ -z "$b" ] || [ $t -lt $b ] && b=$t
	done
	echo $b
}
reset() { echo RESET > $MI; }

t_reset=$(best reset)
echo ALL > $MI
# RESET walks every process: its pages are all the valid pages of ALL.
p_reset=$(sed 's/.* valid: \([0-9]*\),.*/\1/' $MI | awk '{ s += $1 } END { print s }')
echo "FILTER|mi_bench" > $MI
line=$(cat $MI)
t_usm=$(best usm info mi_bench)
p_usm=$(echo "$line" | sed 's/.* valid: \([0-9]*\),.*/\1/')
check_eq "usm info mi_bench equals FILTER|mi_bench" "$line" "$(usm info mi_bench)"
echo "# $line"
echo "# bench reset $t_reset $p_reset"
echo "# bench usm $t_usm $p_usm"
rmmod memory_info
kill $bench
EOF

"$root/tests/kernel/boot-test" --guest "$tmp/bench.sh" --module "$ko" \
	--prog "$root/tests/integration/progs/info_pages.c" --bin "$usm" \
	--memory "$memory" --timeout 3600 >"$tmp/out" 2>&1 || {
	cat "$tmp/out" >&2
	echo "bench/memory_info_guest.sh: the guest run failed" >&2
	exit 1
}
sed -n 's/^# \(mi_bench, .*\)/\1/p' "$tmp/out"
echo "$mib MiB resident, best of $runs runs, QEMU guest ($(sed -n 's/^# kernel //p' "$tmp/out"), TCG, ${memory} MB)"
printf '%-36s %9s %9s %12s %7s\n' "way" "pages" "seconds" "pages/s" "speed"
awk '
	$2 == "bench" { t[$3] = $4; p[$3] = $5 }
	END {
		rate_usm = p["usm"] / (t["usm"] / 1e6)
		rate_mod = p["reset"] / (t["reset"] / 1e6)
		printf "%-36s %9d %9.3f %12.0f %7.2f\n", "usm info NAME (pagemap read)", p["usm"], t["usm"] / 1e6, rate_usm, 1
		printf "%-36s %9d %9.3f %12.0f %7.2f\n", "memory_info.ko RESET (all processes)", p["reset"], t["reset"] / 1e6, rate_mod, rate_mod / rate_usm
	}' "$tmp/out"
