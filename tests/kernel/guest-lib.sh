# Sourced by every guest test script inside the QEMU guest (busybox sh).
# Each check prints one TAP-style line on the serial console; the host
# harness (tests/kernel/boot-test) counts them. A script that exits non-zero
# without printing "not ok" is counted as one failure by the host.
#
#   check NAME CMD [ARGS]      ok when CMD exits 0
#   check_eq NAME WANT GOT     ok when the two strings are equal
#   check_fails NAME CMD ...   ok when CMD exits non-zero
#   start PROG ARGS...         run in the background until it prints "ready"
#   stop PID...                kill and reap

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

# start PROG ARGS...: run in the background until it prints "ready"; sets
# $pid and adds it to $pids.
pids='' nstart=0
start() {
	nstart=$((nstart + 1))
	"$@" > /tmp/ready.$nstart 2>&1 &
	pid=$!
	t=0
	until grep -q '^ready$' /tmp/ready.$nstart; do
		if [ $t -ge 300 ] || ! kill -0 $pid 2>/dev/null; then
			echo "# $* did not get ready:"
			sed 's/^/#   /' /tmp/ready.$nstart
			return 1
		fi
		sleep 0.1
		t=$((t + 1))
	done
	pids="$pids $pid"
}

stop() {
	kill "$@" 2>/dev/null
	for p in "$@"; do wait $p 2>/dev/null; done
}
