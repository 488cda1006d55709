# Sourced by every guest test script inside the QEMU guest (busybox sh).
# Each check prints one TAP-style line on the serial console; the host
# harness (tests/kernel/boot-test) counts them. A script that exits non-zero
# without printing "not ok" is counted as one failure by the host.
#
#   check NAME CMD [ARGS]      ok when CMD exits 0
#   check_eq NAME WANT GOT     ok when the two strings are equal
#   check_fails NAME CMD ...   ok when CMD exits non-zero

USM=/usm               # modules (*.ko) and bin/ (test programs, usm)
PATH=$USM/bin:$PATH

check() {
	name=$1; shift
	if out=$("$@" 2>&1); then
		echo "ok - $name"
	else
		echo "not ok - $name"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	fi
}

check_fails() {
	name=$1; shift
	if out=$("$@" 2>&1); then
		echo "not ok - $name (expected failure)"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	else
		echo "ok - $name"
	fi
}

check_eq() {
	if [ "$2" = "$3" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		printf '%s\n' "#   want: $2" "#   got:  $3"
	fi
}
