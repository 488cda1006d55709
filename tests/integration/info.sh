#!/bin/sh
# usm info against helper processes whose pages are known (progs/info_pages.c):
# exact figures, grouping and order, JSON, errors, no page faulted in, and
# the permission error of a non-root user.
set -u
usm=$1
helper=$2
. "$(dirname "$0")/tap.sh"
tmp=$(mktemp -d)
helpers=""
cleanup() {
	for p in $helpers; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"

run() { # run ARGS... ; sets rc, out (stdout), err (stderr)
	"$usm" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}

# start NAME: runs the helper as NAME (its comm) and waits until it is ready;
# sets pid.
n=0
start() {
	n=$((n + 1))
	[ -x "$tmp/$1" ] || cp "$helper" "$tmp/$1"
	"$tmp/$1" wait >"$tmp/said.$n" &
	pid=$!
	helpers="$helpers $pid"
	eval "said_$pid=$tmp/said.$n"
	wait_for "$pid" ready
}

wait_for() { # wait_for PID WORD: until the helper has said WORD
	eval "said=\$said_$1"
	for _ in $(seq 200); do
		grep -q "^$2" "$said" && return
		sleep 0.05
	done
	echo "Bail out! $helper did not say '$2'"
	exit 1
}

# add_layout PID: makes the helper add its layout regions; sets untouched
# (the address of the 16 pages it never touches).
add_layout() {
	kill -USR1 "$1"
	wait_for "$1" layout
	untouched=$(sed -n 's/^layout untouched=\(0x[0-9a-f]*\).*/\1/p' "$said")
}

matches() { printf '%s\n' "$1" | grep -Eqx "$2"; } # matches LINE ERE

fig() { # fig FIELD LINE: one figure of an info line
	printf '%s\n' "$2" | sed -n "s/.* $1: \([0-9]*\),.*/\1/p"
}

# The same figure of two lines, as a difference.
delta() { echo $(($(fig "$1" "$3") - $(fig "$1" "$2"))); }

# Names unique to this run (comm keeps 15 bytes): one process, two processes.
one=mi_one_$$
two=mi_two_$$
start "$one"; pid_one=$pid
start "$two"; pid_two_a=$pid
start "$two"; pid_two_b=$pid

run info "$one"
is "info NAME exits 0" 0 "$rc"
is "info NAME prints one line" 1 "$(printf '%s\n' "$out" | wc -l)"
is "info NAME prints nothing on stderr" "" "$err"
before_one=$out
ok_if "the line has the module's format" matches "$before_one" \
	"$one, total: [0-9]+, valid: [0-9]+, invalid: [0-9]+, may_be_shared: [0-9]+, nb_group: [0-9]+, pid\(1\): $pid_one"
is "invalid is total - valid" "$(($(fig total "$before_one") - $(fig valid "$before_one")))" "$(fig invalid "$before_one")"
run info "$two"
before_two=$out

add_layout "$pid_one"; untouched_one=$untouched
add_layout "$pid_two_a"
add_layout "$pid_two_b"

run info "$one"
line_one=$out
is "info after the layout exits 0" 0 "$rc"
# The layout adds 8+1 pages of one content, two pairs, 3 unique pages, 4
# alike PROT_NONE pages, 8 zero-page reads (the process has a zero group
# already) and 16 untouched pages (progs/info_pages.c).
is "total grows by every page mapped" 44 "$(delta total "$before_one" "$line_one")"
is "valid grows by the present pages, PROT_NONE and zero page included" 28 "$(delta valid "$before_one" "$line_one")"
is "invalid grows by the untouched pages" 16 "$(delta invalid "$before_one" "$line_one")"
is "may_be_shared grows by the alike readable pages, across mappings, zeros included" 21 "$(delta may_be_shared "$before_one" "$line_one")"
is "nb_group grows by the new contents, not by the PROT_NONE ones" 3 "$(delta nb_group "$before_one" "$line_one")"

run info "$two"
line_two=$out
ok_if "two processes of a name: one line with both pids, ascending" matches "$line_two" \
	"$two, .*, pid\(2\): $pid_two_a; $pid_two_b"
is "two processes: total sums them" 88 "$(delta total "$before_two" "$line_two")"
is "two processes: valid sums them" 56 "$(delta valid "$before_two" "$line_two")"
# across the two: 18 alike, 4+4 pairs, the 3 unique pages now pairs (6), 16 zeros
is "two processes: pages alike across processes count" 48 "$(delta may_be_shared "$before_two" "$line_two")"
is "two processes: groups span processes" 6 "$(delta nb_group "$before_two" "$line_two")"

run info --no-pagemap-scan "$one"
is "reading pagemap entries (kernels before 6.7) gives the same line" "$line_one" "$out"

run info --pid "$pid_two_b" --pid "$pid_one" --pid "$pid_two_a"
# names in order of their lowest pid, each line as info NAME prints it
if [ "$pid_one" -lt "$pid_two_a" ]; then want="$line_one
$line_two"; else want="$line_two
$line_one"; fi
is "several names: one line each, in order of first pid" "$want" "$out"

run info "$one" --json
is "--json exits 0" 0 "$rc"
ok_if "--json agrees with the line" python3 - "$tmp/out" "$line_one" <<'PY'
import json, re, sys
j = json.load(open(sys.argv[1]))
assert isinstance(j, list) and len(j) == 1, j
o = j[0]
m = re.fullmatch(r"(.*), total: (\d+), valid: (\d+), invalid: (\d+), may_be_shared: (\d+), "
                 r"nb_group: (\d+), pid\((\d+)\): (.*)", sys.argv[2])
name, *nums, npids, pids = m.groups()
assert o["name"] == name, (o, name)
for key, v in zip(["total", "valid", "invalid", "may_be_shared", "nb_group"], nums):
    assert o[key] == int(v), (key, o[key], v)
assert o["pids"] == [int(p) for p in pids.split("; ")] and len(o["pids"]) == int(npids), o
assert list(o) == ["name", "total", "valid", "invalid", "may_be_shared", "nb_group", "pids"], list(o)
PY

# Nothing is faulted in: the untouched region stays absent, RSS stays put.
absent() { # absent PID ADDR COUNT: true when no page of the range is present
	python3 - "$@" <<'PY'
import struct, sys
pid, addr, count = int(sys.argv[1]), int(sys.argv[2], 16), int(sys.argv[3])
with open(f"/proc/{pid}/pagemap", "rb") as f:
    f.seek(addr // 4096 * 8)
    entries = struct.unpack(f"{count}Q", f.read(8 * count))
sys.exit(1 if any(e >> 63 for e in entries) else 0)
PY
}
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
rss_before=$(rss "$pid_one")
ok_if "the untouched region is absent before" absent "$pid_one" "$untouched_one" 16
run info "$one"
run info --no-pagemap-scan "$one"
line_after=$out
ok_if "usm info faults no page in (pagemap)" absent "$pid_one" "$untouched_one" 16
is "usm info faults no page in (VmRSS)" "$rss_before" "$(rss "$pid_one")"
is "usm info faults no page in (valid)" "$line_one" "$line_after"

run info "nope_$$"
is "unknown NAME exits 1" 1 "$rc"
is "unknown NAME prints nothing on stdout" "" "$out"
is "unknown NAME prints one line" "usm: info: no process named 'nope_$$'" "$err"

run info --pid 99999999
is "a pid that is no process exits 1" 1 "$rc"
is "a pid that is no process prints one line" 1 "$(printf '%s\n' "$err" | wc -l)"

for args in "--bogus" "--pid" "--pid abc" "--pid 0" "a b" "" "0123456789abcdef"; do
	# shellcheck disable=SC2086 # word splitting wanted, "" stays one empty argument
	if [ -z "$args" ]; then run info ""; else run info $args; fi
	is "usage error '$args' exits 2" 2 "$rc"
	is "usage error '$args' prints one line" 1 "$(printf '%s\n' "$err" | wc -l)"
	ok_if "usage error '$args' starts with 'usm: info: '" grep -q "^usm: info: " "$tmp/err"
done

run info --help
is "--help exits 0" 0 "$rc"
ok_if "--help shows the usage" grep -q '^usage: usm info' "$tmp/out"

# A non-root user may not read a root process: it is named, nothing printed.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && nobody "$usm" --version >/dev/null 2>&1; then
	for sel in "--pid $pid_one" "$one"; do
		# shellcheck disable=SC2086
		nobody "$usm" info $sel >"$tmp/out" 2>"$tmp/err"; rc=$?
		is "as nobody, info $sel of a root process exits 1" 1 "$rc"
		is "as nobody, info $sel prints no figures" "" "$(cat "$tmp/out")"
		is "as nobody, info $sel names the process" \
			"usm: info: $pid_one ($one): permission denied: run as root to read other users' processes" \
			"$(cat "$tmp/err")"
	done
else
	tap_result ok "# SKIP permission test: needs root, setpriv and a usm that nobody can run"
fi

done_testing
