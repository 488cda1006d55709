#!/bin/bash
# What Memorizer costs the guest (kernel/memorizer/'s cached kernel, QEMU,
# TCG): boot-to-shell time, from QEMU's start to the init script's
# @@USM-BOOTED line, timed on the host, and ns per syscall of
# bench/syscall_loop.c (getppid, read of /dev/null, each for MS ms) in the guest, with
# Memorizer off (memorizer_enabled_boot=no: no allocation or access is
# recorded, KASAN's instrumentation still runs), on (the default, access
# logging off) and on with access logging (memorizer_log_access 1, set by
# the guest before the loop: the patch has no boot parameter for it, so
# that way boots as "on" does). Each round boots the three ways in turn;
# the figures are medians over the rounds, and ratios to "off".
# Software emulation: only the ratios mean something. Not part of make check.
#
#   bench/memorizer_guest.sh [--rounds N] [--ms MS]
#       (default: N=5, MS=2000; builds the kernel once if not cached)
set -eu
. "$(dirname "$0")/common.sh"
rounds=5
ms=2000
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--ms) ms=$2; shift 2 ;;
	-h | --help) bench_help 15 ;;
	-*) bench_bad_option "$1" ;;
	*) echo "$bench_name: unexpected argument '$1'" >&2; exit 2 ;;
	esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
kdir=$("$root/kernel/memorizer/build.sh") || { echo "$bench_name: the Memorizer kernel does not build" >&2; exit 1; }
kernel=$kdir/linux/arch/x86/boot/bzImage

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The guest: the loop's figures on "# bench WAY NAME NS" lines.
cat >"$tmp/bench.sh" <<EOF
. /usm/guest-lib.sh
ms=$ms
EOF
cat >>"$tmp/bench.sh" <<'EOF'
mount -t debugfs none /sys/kernel/debug
M=/sys/kernel/debug/memorizer
way=$(sed -n 's/.*usm_way=\([a-z]*\).*/\1/p' /proc/cmdline)
[ "$way" = log ] && echo 1 > $M/memorizer_log_access
out=$(syscall_loop $ms)
check_eq "syscall_loop prints its two figures ($way)" 2 "$(echo "$out" | grep -c '^[a-z]* [0-9]*$')"
echo "$out" | sed "s/^/# bench $way /"
echo 0 > $M/memorizer_log_access
EOF

# boot-test builds the initramfs (and checks the guest script runs); the
# rounds boot that initramfs with boot-test's own QEMU command line.
"$root/tests/kernel/boot-test" --no-acpi --kernel "$kernel" --guest "$tmp/bench.sh" \
	--prog "$root/bench/syscall_loop.c" --keep "$tmp/k" --timeout 600 >"$tmp/first" 2>&1 || {
	cat "$tmp/first" >&2
	echo "$bench_name: the first guest run failed" >&2
	exit 1
}

# boot WAY CMDLINE: one boot; appends "boot WAY SECONDS" and the guest's
# bench lines to $tmp/figures.
boot() {
	local t0 t1='' line
	t0=$EPOCHREALTIME
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		*@@USM-BOOTED*) t1=$EPOCHREALTIME ;;
		"# bench "*) echo "${line#\# }" >>"$tmp/figures" ;;
		"not ok"*) echo "$bench_name: $1: $line" >&2; return 1 ;;
		esac
	done < <(timeout --foreground -k 5 600 qemu-system-x86_64 -nographic -no-reboot \
		-monitor none -accel tcg -m 512 -smp 2,sockets=2,cores=1,threads=1 \
		-kernel "$kernel" -initrd "$tmp/k/initramfs.gz" \
		-append "console=ttyS0 panic=-1 oops=panic quiet usm_way=$1 $2" </dev/null 2>&1)
	[ -n "$t1" ] || { echo "$bench_name: $1: the guest did not boot" >&2; return 1; }
	echo "boot $1 $(echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }')" >>"$tmp/figures"
}

: >"$tmp/figures"
for r in $(seq "$rounds"); do
	boot off memorizer_enabled_boot=no
	boot on ''
	boot log ''
done

echo "Memorizer kernel $(basename "$kdir") in QEMU (TCG, 2 CPUs, 512 MB), $rounds rounds, medians; each loop $ms ms"
printf '%-20s %10s %10s %10s %8s %8s\n' "figure" "off" "on" "on+log" "on/off" "log/off"
awk '
	function median(key,   n, i, j, v, t) {
		n = cnt[key]
		for (i = 1; i <= n; i++) v[i] = val[key, i]
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	$1 == "boot" { k = "boot-to-shell (s)" SUBSEP $2; val[k, ++cnt[k]] = $3 }
	$1 == "bench" { k = $3 " (ns/call)" SUBSEP $2; val[k, ++cnt[k]] = $4 }
	END {
		split("boot-to-shell (s)|getppid (ns/call)|read (ns/call)", names, "|")
		for (i = 1; i <= 3; i++) {
			off = median(names[i] SUBSEP "off"); on = median(names[i] SUBSEP "on")
			lg = median(names[i] SUBSEP "log")
			fmt = i == 1 ? "%-20s %10.3f %10.3f %10.3f %8.2f %8.2f\n" : "%-20s %10.0f %10.0f %10.0f %8.2f %8.2f\n"
			printf fmt, names[i], off, on, lg, on / off, lg / off
		}
	}' "$tmp/figures"
