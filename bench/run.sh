#!/bin/bash
# usm run against the kernel, in one run (docs/performance.md):
#  1. first touch: bench/scan under usm run with default settings vs natively;
#  2. out-of-core scans (sequential, strided, random) over 4x the budget:
#     usm run with each policy and store, and with fixed 64K blocks, vs the
#     kernel swapping the same program under a cgroup v1 memory limit of the
#     same size;
#  3. with memcached installed: the same scans with the memcached store on 3
#     (and 1) local servers, replicas 0 and 1; the store's get of one 4 KiB
#     page against a bare libmemcached get (p50, p99), and blocks per second
#     stored and loaded in the pager's batches (bench/mc_bench.c).
# Figures are ns per page and ratios (kernel time / usm time: >1 means usm
# is faster). Needs root for the cgroup and the swap file.
#
# usage: bench/run.sh [--mib N] [--passes P] [BUILD_DIR]
set -euo pipefail
mib=256 passes=2 build=build
while [ $# -gt 0 ]; do
	case $1 in
	--mib) mib=$2; shift 2 ;;
	--passes) passes=$2; shift 2 ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) build=$1; shift ;;
	esac
done
here=$(cd "$(dirname "$0")" && pwd)
usm=$build/tools/usm/usm
[ -x "$usm" ] || { echo "bench: $usm not built (run make)" >&2; exit 2; }
tmp=$(mktemp -d)
mc_pids=''
trap 'rm -rf "$tmp"; cleanup_kernel; [ -z "$mc_pids" ] || kill $mc_pids 2>/dev/null' EXIT
cc -O2 -o "$tmp/scan" "$here/scan.c"
budget=$((mib / 4))

field() { awk -v p="$1" '$1 == p { print $6 }' "$2"; }   # ns/page of a phase
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "# bench/run.sh: $mib MiB array, budget $budget MiB, $passes passes, $(uname -r), $(nproc) cores"
echo "# first touch (lower is better; ratio = usm / kernel, goal <= 2)"
"$tmp/scan" "$mib" 1 >"$tmp/native"
"$usm" run -q -- "$tmp/scan" "$mib" 1 >"$tmp/usm-default"
"$usm" run -q --prefetch 0 -- "$tmp/scan" "$mib" 1 >"$tmp/usm-noprefetch"
printf '%-28s %10s %8s\n' "" "ns/page" "ratio"
k=$(field first-touch "$tmp/native")
printf '%-28s %10s %8s\n' "kernel" "$k" "1.00"
for v in default noprefetch; do
	u=$(field first-touch "$tmp/usm-$v")
	printf '%-28s %10s %8s\n' "usm run ($v)" "$u" "$(ratio "$u" "$k")"
done

# The kernel's own paging: a cgroup v1 memory limit with a swap file.
cg=/sys/fs/cgroup/memory/usm-bench
swapfile=''
cleanup_kernel() {
	[ -d "$cg" ] && rmdir "$cg" 2>/dev/null || true
	[ -n "$swapfile" ] && { swapoff "$swapfile" 2>/dev/null; rm -f "$swapfile"; } || true
}
kernel_ok=''
if [ "$(id -u)" = 0 ] && [ -d /sys/fs/cgroup/memory ]; then
	if [ "$(awk 'NR > 1' /proc/swaps | wc -l)" = 0 ]; then
		swapfile=/var/tmp/usm-bench.swap
		fallocate -l $((mib * 2))M "$swapfile" && chmod 600 "$swapfile" && mkswap -q "$swapfile" \
			&& swapon "$swapfile" || swapfile=''
	fi
	if [ "$(awk 'NR > 1' /proc/swaps | wc -l)" != 0 ] && mkdir -p "$cg" \
		&& echo $((budget << 20)) >"$cg/memory.limit_in_bytes"; then
		kernel_ok=yes
	fi
fi

echo
echo "# out-of-core scans over ${mib} MiB with a ${budget} MiB budget (ratio = kernel / usm, goal >= 1, random >= 0.8)"
if [ -n "$kernel_ok" ]; then
	sh -c "echo \$\$ > $cg/cgroup.procs && exec $tmp/scan $mib $passes" >"$tmp/kernel"
else
	echo "# kernel baseline unavailable (needs root, cgroup v1 memory and swap)"
	: >"$tmp/kernel"
fi
printf '%-42s %12s %12s %12s\n' "" sequential strided random
row() {
	local name=$1 file=$2 base=${3:-}
	local s t r
	s=$(field sequential "$file"); t=$(field strided "$file"); r=$(field random "$file")
	if [ -n "$base" ]; then
		printf '%-42s %12s %12s %12s\n' "$name" \
			"$s ($(ratio "$(field sequential "$base")" "$s"))" \
			"$t ($(ratio "$(field strided "$base")" "$t"))" \
			"$r ($(ratio "$(field random "$base")" "$r"))"
	else
		printf '%-42s %12s %12s %12s\n' "$name" "$s" "$t" "$r"
	fi
}
[ -n "$kernel_ok" ] && row "kernel swap (cgroup)" "$tmp/kernel"
for policy in fifo clock refault; do
	for store in mem mem:zstd "file:$tmp/swap"; do
		"$usm" run -q --limit "${budget}M" --policy "$policy" --store "$store" -- \
			"$tmp/scan" "$mib" "$passes" >"$tmp/usm"
		label="usm $policy ${store%%:/*}"
		row "$label" "$tmp/usm" "$([ -n "$kernel_ok" ] && echo "$tmp/kernel")"
	done
done
# the blocks as they were before they adapted to the faults (docs/run.md)
"$usm" run -q --limit "${budget}M" --fixed-page-size -- "$tmp/scan" "$mib" "$passes" >"$tmp/usm"
row "usm default, fixed 64K" "$tmp/usm" "$([ -n "$kernel_ok" ] && echo "$tmp/kernel")"
# the pager sleeping after each event, as before it polled (lib/pager/wait.c)
"$usm" run -q --limit "${budget}M" --spin 0 -- "$tmp/scan" "$mib" "$passes" >"$tmp/usm"
row "usm default, --spin 0" "$tmp/usm" "$([ -n "$kernel_ok" ] && echo "$tmp/kernel")"
"$usm" run -q --limit "${budget}M" --stats "$tmp/default.json" -- "$tmp/scan" "$mib" "$passes" >"$tmp/usm"
row "usm default" "$tmp/usm" "$([ -n "$kernel_ok" ] && echo "$tmp/kernel")"
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['$1'])" "$2"; }
echo
echo "# fault service, ns (goal: usm p50 <= half the kernel's first touch)"
printf '%-42s %12s\n' "kernel first touch, per page (above)" "$(field first-touch "$tmp/native")"
printf '%-42s %12s\n' "usm default, p50 of every fault served" "$(json_field fault_latency_p50_ns "$tmp/default.json")"
printf '%-42s %12s\n' "usm default, p99" "$(json_field fault_latency_p99_ns "$tmp/default.json")"

# The memcached store, on servers started here on free loopback ports.
command -v memcached >/dev/null || { echo; echo "# memcached not installed: no memcached rows"; exit 0; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
servers=()
for i in 1 2 3; do
	port=$(free_port)
	memcached -M -m $((mib * 2)) -p "$port" -l 127.0.0.1 -U 0 $([ "$(id -u)" = 0 ] && echo -u root) &
	mc_pids="$mc_pids $!"
	servers+=("127.0.0.1:$port")
done
mc_spec="memcached:$(IFS=,; echo "${servers[*]}")"
mc_one="memcached:${servers[0]}"
until "$usm" store check "$mc_spec" >/dev/null 2>&1; do sleep 0.1; done
for cfg in "3 servers" "3 servers, replicas 1" "1 server"; do
	case $cfg in
	"3 servers") spec=$mc_spec ;;
	"3 servers, replicas 1") spec="$mc_spec,replicas=1" ;;
	"1 server") spec=$mc_one ;;
	esac
	"$usm" run -q --limit "${budget}M" --store "$spec" --stats "$tmp/mc.json" -- \
		"$tmp/scan" "$mib" "$passes" >"$tmp/usm"
	row "usm fifo memcached, $cfg" "$tmp/usm" "$([ -n "$kernel_ok" ] && echo "$tmp/kernel")"
	[ "$cfg" = "3 servers" ] && cp "$tmp/mc.json" "$tmp/mc3.json"
done

cc -O2 -I"$here/../lib" -I"$here/../include" -I"$build/include" -o "$tmp/mc_bench" \
	"$here/mc_bench.c" "$build/lib/libusm-internal.a" \
	$(pkg-config --libs libmemcached liblz4 libzstd libxxhash libdw) -lpthread
echo
echo "# one 4 KiB page from memcached, ns (goal: store p50 <= 1.5 x bare)"
printf '%-44s %10s %10s\n' "" p50 p99
"$tmp/mc_bench" "$mc_spec" latency >"$tmp/lat"
read -r _ bare50 bare99 < <(grep '^bare-get' "$tmp/lat")
read -r _ st50 st99 < <(grep '^store-get' "$tmp/lat")
printf '%-44s %10s %10s\n' "bare libmemcached get" "$bare50" "$bare99"
printf '%-44s %10s %10s  (p50 %s x bare)\n' "usm store get (key, checksum, record)" "$st50" "$st99" \
	"$(ratio "$st50" "$bare50")"
printf '%-44s %10s %10s\n' "usm run fault served (scans above, 3 servers)" \
	"$(json_field fault_latency_p50_ns "$tmp/mc3.json" 2>/dev/null || echo -)" \
	"$(json_field fault_latency_p99_ns "$tmp/mc3.json" 2>/dev/null || echo -)"
echo
echo "# 4 KiB blocks per second in the pager's batches (256 per put, 80 per get)"
printf '%-28s %12s %12s\n' "" stored loaded
for cfg in "1 server" "3 servers" "3 servers, replicas 1"; do
	case $cfg in
	"3 servers") spec=$mc_spec ;;
	"3 servers, replicas 1") spec="$mc_spec,replicas=1" ;;
	"1 server") spec=$mc_one ;;
	esac
	"$tmp/mc_bench" "$spec" rate >"$tmp/rate"
	printf '%-28s %12s %12s\n' "$cfg" "$(awk '$1 == "put-rate" { print $2 }' "$tmp/rate")" \
		"$(awk '$1 == "get-rate" { print $2 }' "$tmp/rate")"
done
