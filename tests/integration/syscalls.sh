#!/bin/sh
# usm syscalls (docs/syscalls.md) against a program with two hot syscall
# sites (a pread loop and a write loop, each in its own function) and a cold
# one (getppid every 10 ms): run under it, attached with -p, with the loops
# in threads, and as a child of the command; then the one-line errors. Needs root (tracepoints).
set -u
usm=$1
prog=$2
. "$(dirname "$0")/tap.sh"
tmp=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill "$bg" 2>/dev/null; rm -rf "$tmp"' EXIT

run() { # run ARGS... ; sets rc, out (stdout), err (stderr)
	"$usm" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}

# check_sites NAME JSON [DUTY]: the hot sites are exactly pread64 from
# pread_loop and write from write_loop, and the getppid site is there and
# not hot; and the run observed DUTY percent of the time (default: usm's)
check_sites() {
	python3 - "$2" "$1" "${3:-20}" <<'PY' >"$tmp/check"
import json, sys
name, duty = sys.argv[2], int(sys.argv[3])
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("not ok %s: output is JSON: %s" % (name, e)); sys.exit()
def caller(s):
    return s["callers"][0]["function"] if s["callers"] else None
hot = sorted((s["syscalls"][0], caller(s)) for s in r["sites"] if s["hot"])
want = [("pread64", "pread_loop"), ("write", "write_loop")]
print(("ok" if hot == want else "not ok") + " %s: exactly the two hot sites, named by the program's functions%s"
      % (name, "" if hot == want else ": got %s" % hot))
cold = [s for s in r["sites"] if s["syscalls"] == ["getppid"]]
# (a shell running the program calls getppid once too: its own site; the
# program's is called about 100 times a second: rates are per observed second)
ok = cold and not any(s["hot"] for s in cold) and max(s["rate"] for s in cold) > 50
print(("ok" if ok else "not ok") + " %s: the getppid site is seen and not hot%s" % (name, "" if ok else ": %s" % cold))
hs = [s for s in r["sites"] if s["hot"]]
ok = all(s["module"] and "libc" in s["module"] and s["function"] and s["short"] > 900 for s in hs)
print(("ok" if ok else "not ok") + " %s: hot sites are libc wrappers with their short gaps counted" % name)
# under 100%, observation pauses (between whole windows); at 100% it never does
if duty < 100:
    ok = r["rule"]["duty_percent"] == duty and 0 < r["observed_seconds"] < r["seconds"]
else:
    ok = r["rule"]["duty_percent"] == 100 and r["phases"] == 1
print(("ok" if ok else "not ok") + " %s: observed %d%% of the time: %s of %s s in %s phases"
      % (name, duty, r["observed_seconds"], r["seconds"], r["phases"]))
PY
	checker_results "$tmp/check"
}

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP usm syscalls needs root for the raw_syscalls tracepoints"
	exit 0
fi

# 1: the program run under usm syscalls, one thread
run syscalls --json -- "$prog" 3
is "-- CMD exits 0" 0 "$rc"
cp "$tmp/out" "$tmp/cmd.json"
check_sites "-- CMD" "$tmp/cmd.json"

# 2: the same program already running, attached with -p
"$prog" 8 2>"$tmp/ready" &
bg=$!
for _ in $(seq 50); do grep -q ready "$tmp/ready" && break; sleep 0.1; done
run syscalls --json -p "$bg" --duration 3
is "-p PID exits 0" 0 "$rc"
cp "$tmp/out" "$tmp/pid.json"
check_sites "-p PID" "$tmp/pid.json"
ok_if "-p PID leaves the program running" kill -0 "$bg"
kill "$bg"; wait "$bg" 2>/dev/null; bg=

# 3: each loop in a thread of its own (events inherited by new threads)
run syscalls --json -- "$prog" 3 threads
is "threads exits 0" 0 "$rc"
cp "$tmp/out" "$tmp/threads.json"
check_sites "threads" "$tmp/threads.json"

# 4: the program as a child of CMD (events inherited across fork and exec)
run syscalls --json -- sh -c "\"$prog\" 3; true"
is "child of CMD exits 0" 0 "$rc"
cp "$tmp/out" "$tmp/child.json"
check_sites "child of CMD" "$tmp/child.json"

# 5: every syscall observed (--duty 100), attached to a running program
"$prog" 5 2>"$tmp/ready" &
bg=$!
for _ in $(seq 50); do grep -q ready "$tmp/ready" && break; sleep 0.1; done
run syscalls --json --duty 100 -p "$bg" --duration 2
is "--duty 100 exits 0" 0 "$rc"
cp "$tmp/out" "$tmp/full.json"
check_sites "--duty 100" "$tmp/full.json" 100
kill "$bg"; wait "$bg" 2>/dev/null; bg=

# the table and --targets, from the same kind of run
run syscalls --duration 2 -- "$prog" 2
ok_if "table: pread64 row is hot and names pread_loop" \
	sh -c "grep -E '^yes .* pread64 .*pread_loop' '$tmp/out'"
ok_if "table: getppid row is not hot" sh -c "grep -E '^no .* getppid ' '$tmp/out'"
run syscalls --targets -- "$prog" 2
ok_if "--targets: two hot sites as 0x addresses with libc+offset" \
	sh -c "[ \$(grep -cE '^0x[0-9a-f]+, /\\* pid [0-9]+ (pread64|write) .*libc[^ ]*\\+0x[0-9a-f]+ \\*/' '$tmp/out') = 2 ]"

# errors: one line each, 2 for usage, 1 for failures
err_is_line() { [ "$(wc -l <"$tmp/err")" = 1 ] && grep -qE "$1" "$tmp/err"; }
one_line() { # NAME WANT-RC PATTERN ARGS...
	name=$1 want=$2 pat=$3; shift 3
	run "$@"
	is "$name: exit $want" "$want" "$rc"
	ok_if "$name: one line matching $pat" err_is_line "$pat"
}
one_line "no such pid" 1 '^usm: syscalls: no process 2147483647$' syscalls -p 2147483647
one_line "pid not a number" 2 "^usm: syscalls: -p: 'abc' is not a process id" syscalls -p abc
one_line "pid zero" 2 "^usm: syscalls: -p: '0' is not a process id" syscalls -p 0
one_line "no target" 2 '^usm: syscalls: give -p PID or a command' syscalls
one_line "pid and command" 2 '^usm: syscalls: give -p PID or a command, not both' syscalls -p 1 -- true
one_line "unknown option" 2 "^usm: syscalls: unknown option '--bogus'" syscalls --bogus
one_line "missing value" 2 "^usm: syscalls: option '--window' needs a value" syscalls --window
one_line "bad duration" 2 "^usm: syscalls: --duration: '-1' is not a number of seconds" \
	syscalls --duration -1 -- true
one_line "bad window" 2 "^usm: syscalls: --window: '0' is not a whole number from 1 " \
	syscalls --window 0 -- true
one_line "bad duty" 2 "^usm: syscalls: --duty: '0' is not a whole number from 1 to 100" \
	syscalls --duty 0 -- true
one_line "bad short gap" 2 "^usm: syscalls: --short-gap: 'x' is not a whole number" \
	syscalls --short-gap x -- true
one_line "bad stack size" 2 "^usm: syscalls: --stack-size: '12' is not a multiple of 8" \
	syscalls --stack-size 12 -- true
one_line "command not found" 1 "^usm: syscalls: cannot run 'no-such-command-usm': No such file" \
	syscalls -- no-such-command-usm

# without root: the one line says what is missing (tracefs is mounted by now)
if command -v setpriv >/dev/null; then
	setpriv --reuid 65534 --regid 65534 --clear-groups "$usm" syscalls -- true \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	is "not root: exit 1" 1 "$rc"
	ok_if "not root: one line saying what is missing" err_is_line \
		"^usm: syscalls: (tracefs on /sys/kernel/tracing is root's alone|perf_event_open refused: .*CAP_PERFMON)"
fi

done_testing
