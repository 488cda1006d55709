#!/bin/sh
# The usm binary's command-line contract: help, version, and one-line
# usage errors with exit status 2.
set -u
usm=$1
. "$(dirname "$0")/tap.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run() { # run ARGS... ; sets rc, out (stdout), err (stderr)
	"$usm" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}

run --help
is "--help exits 0" 0 "$rc"
ok_if "--help lists features" grep -q '^  features ' "$tmp/out"
ok_if "--help lists help" grep -q '^  help ' "$tmp/out"
# every command --help lists must exist: its own --help must succeed
for c in $(sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' "$tmp/out"); do
	[ "$c" = help ] && continue
	run "$c" --help
	is "listed command '$c' has a working --help" 0 "$rc"
done

run --version
is "--version exits 0" 0 "$rc"
ok_if "--version names usm and its version" sh -c "echo '$out' | grep -Eq '^usm [0-9]+\.[0-9]+\.[0-9]+'"

run
is "no command exits 2" 2 "$rc"

run nope
is "unknown command exits 2" 2 "$rc"
is "unknown command prints nothing on stdout" "" "$out"
is "unknown command prints one line" 1 "$(wc -l <"$tmp/err")"
ok_if "unknown command's line starts with 'usm: '" grep -q "^usm: 'nope' is not a usm command" "$tmp/err"

run --frobnicate
is "unknown top-level option exits 2" 2 "$rc"
is "unknown top-level option prints one line" 1 "$(wc -l <"$tmp/err")"

run features --bogus
is "unknown subcommand option exits 2" 2 "$rc"
is "unknown subcommand option prints one line" 1 "$(wc -l <"$tmp/err")"
ok_if "unknown subcommand option names it" grep -q "^usm: features: unknown option '--bogus'" "$tmp/err"

run features extra
is "unexpected argument exits 2" 2 "$rc"

run help features
is "help <cmd> exits 0" 0 "$rc"
ok_if "help <cmd> shows that command's usage" grep -q '^usage: usm features' "$tmp/out"

run help nope
is "help of an unknown command exits 2" 2 "$rc"

run features
is "features exits 0" 0 "$rc"
ok_if "features reports the running kernel" grep -q "^kernel  *$(uname -r) " "$tmp/out"

run features --json
is "features --json exits 0" 0 "$rc"
ok_if "features --json is valid JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out"
ok_if "features --json agrees with the table" python3 - "$tmp/out" "$usm" <<'PY'
import json, subprocess, sys
j = json.load(open(sys.argv[1]))
table = subprocess.run([sys.argv[2], "features"], capture_output=True, text=True, check=True).stdout
for line in table.splitlines():
    key, value = line.split()[:2]
    v = j[key]
    want = ("yes" if v else "no") if isinstance(v, bool) else (hex(v) if key == "uffd_features" else str(v))
    assert value == want, (key, value, want)
PY
ok_if "features --json: the supervisor rows, typed, the uffd ones from the feature bits" \
	python3 - "$tmp/out" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("soft_dirty", "uffd_sigbus", "uffd_wp_unpopulated", "uffd_wp_shmem", "madv_collapse",
          "uffd_poison", "uffd_move"):
    assert isinstance(j[k], bool), k
# the kernel's ABI bits: SIGBUS 1<<7, WP_HUGETLBFS_SHMEM 1<<12, WP_UNPOPULATED 1<<13,
# POISON 1<<14, MOVE 1<<16
bits = j["uffd_features"]
assert j["uffd_sigbus"] == bool(bits & 1 << 7)
assert j["uffd_wp_shmem"] == bool(bits & 1 << 12)
assert j["uffd_wp_unpopulated"] == bool(bits & 1 << 13)
assert j["uffd_poison"] == bool(bits & 1 << 14)
assert j["uffd_move"] == bool(bits & 1 << 16)
assert j["thp_enabled"] in ("always", "madvise", "never", "none"), j["thp_enabled"]
assert isinstance(j["hw_breakpoints"], int) and 0 <= j["hw_breakpoints"] <= 8
assert j["dirty_auto"] in ("scan", "softdirty", "uffd", "mprotect", "none"), j["dirty_auto"]
# scan needs PAGEMAP_SCAN and WP_ASYNC: auto takes it exactly where both are
assert (j["dirty_auto"] == "scan") == (j["pagemap_scan"] and j["uffd_wp_async"]
                                       and j["uffd_wp_unpopulated"]), j
PY

done_testing
