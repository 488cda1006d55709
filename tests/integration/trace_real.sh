#!/bin/sh
# A real third-party C program under usm trace: Duktape, the JavaScript
# engine Debian ships as one C file (duktape-dev), built by usm cc, runs a
# script to the same output as its uninstrumented build, and its CAPMAP
# agrees with Valgrind DHAT's profile of the same run: per allocation site,
# the same number of allocations and the same bytes.
set -u
usm=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
duk=/usr/share/duktape
script=$here/trace/workload.js

if [ ! -f "$duk/duktape.c" ] || ! command -v valgrind >/dev/null || ! command -v clang >/dev/null; then
	tap_result fail "duktape-dev, valgrind and clang are installed (scripts/deps.sh)"
	done_testing; exit
fi

# Valgrind 3.19 cannot read clang 14's default DWARF 5: both builds use 4.
flags="-O1 -gdwarf-4 -I$duk"
clang $flags "$here/trace/duk_driver.c" "$duk/duktape.c" -lm -o "$tmp/plain" 2>"$tmp/plain.err" &
plain_pid=$!
"$usm" cc $flags "$here/trace/duk_driver.c" "$duk/duktape.c" -lm -o "$tmp/traced" 2>"$tmp/cc.err"
is "usm cc builds Duktape" 0 $?
wait $plain_pid
is "clang builds Duktape" 0 $?

"$tmp/plain" "$script" >"$tmp/plain.out" 2>&1
is "the uninstrumented build runs the script" 0 $?
"$usm" trace -o "$tmp/duk.capmap" -- "$tmp/traced" "$script" >"$tmp/traced.out" 2>&1
is "the traced build runs the script" 0 $?
is "same output traced as uninstrumented" "$(cat "$tmp/plain.out")" "$(cat "$tmp/traced.out")"
valgrind --tool=dhat --dhat-out-file="$tmp/dhat.json" "$tmp/plain" "$script" >"$tmp/dhat.out" 2>"$tmp/dhat.err"
is "DHAT runs the uninstrumented build" 0 $?
is "same output under DHAT" "$(cat "$tmp/plain.out")" "$(cat "$tmp/dhat.out")"
"$usm" trace report --json --top 0 "$tmp/duk.capmap" >"$tmp/report.json"
is "report of Duktape's CAPMAP" 0 $?
ok_if "Duktape's objects were read and written" python3 - "$tmp/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["objects"] > 10000 and r["reads"] > 1000000 and r["writes"] > 100000, r
PY
# Duktape's sources are amalgamated with #line, so its sites name duk_*.c
python3 "$here/trace/compare_dhat.py" "$tmp/duk.capmap" "$tmp/report.json" "$tmp/dhat.json" \
	'^duk_.*\.c$' >"$tmp/checks" 2>&1 || echo "not ok comparison ran: $(cat "$tmp/checks")" >>"$tmp/checks"
checker_results "$tmp/checks" "DHAT agrees: "

done_testing
