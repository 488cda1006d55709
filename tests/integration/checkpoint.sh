#!/bin/sh
# examples/checkpoint (docs/supervisor.md, examples/checkpoint/README.md):
# after rounds of random writes, the base and the increments restore
# byte-identical memory, for every dirty backend this machine has; a
# truncated or corrupt checkpoint file is refused with one line, exit 1.
set -u
ckpt=$1
. "$(dirname "$0")/tap.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run() { # run ARGS... ; sets rc, out (stdout), err (stderr)
	"$ckpt" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}
checksum() { sed -n 's/^checksum //p' "$tmp/out"; }

for b in auto scan softdirty uffd mprotect; do
	f=$tmp/$b.ckpt
	run run --backend "$b" --file "$f" --size 8M --rounds 4 --write-pct 2 --seed 7
	if [ "$rc" != 0 ] && echo "$err" | grep -q 'not available'; then
		tap_result ok "$b: restores the live region # SKIP ${err#*not available: }"
		continue
	fi
	is "$b: run exits 0" 0 "$rc"
	live=$(checksum)
	# 4 increments after the base, each no more pages than were written
	# (2% of 2048 = 40 writes)
	incr=$(sed -n 's/^checkpoint [1-9][0-9]*: \([0-9]*\) pages.*/\1/p' "$tmp/out")
	is "$b: 4 increments written" 4 "$(echo "$incr" | grep -c .)"
	big=$(echo "$incr" | awk '$1 > 40 || $1 < 1' | head -n 1)
	is "$b: each increment holds 1 to 40 pages (the ones written)" "" "$big"
	run restore --file "$f"
	is "$b: restore exits 0" 0 "$rc"
	is "$b: the restored region's checksum is the live one's" "$live" "$(checksum)"
	run verify --backend "$b" --file "$f" --size 8M --rounds 4 --write-pct 2 --seed 8
	is "$b: verify finds restored memory identical in the same process" 0 "$rc"
done

# The same writes on any backend give the same memory: the checksum does not
# depend on how the pages were tracked.
run run --backend mprotect --file "$tmp/a.ckpt" --size 8M --rounds 4 --write-pct 2 --seed 7
a=$(checksum)
run run --file "$tmp/a.ckpt" --size 8M --rounds 4 --write-pct 2 --seed 9
ok_if "another seed gives another region (the checksum sees writes)" test "$a" != "$(checksum)"

# One line on stderr, nothing restored, exit 1.
refused() { # NAME WANT-IN-ERR
	is "$1: exits 1" 1 "$rc"
	is "$1: one line on stderr" 1 "$(printf '%s\n' "$err" | grep -c .)"
	ok_if "$1: says $2" sh -c "printf '%s\n' \"\$1\" | grep -q \"\$2\"" - "$err" "$2"
	is "$1: prints no checksum" "" "$(checksum)"
}
run run --file "$tmp/good.ckpt" --size 1M --rounds 3 --write-pct 5
size=$(wc -c <"$tmp/good.ckpt")

head -c $((size - 100)) "$tmp/good.ckpt" >"$tmp/short.ckpt"
run restore --file "$tmp/short.ckpt"
refused "truncated last checkpoint" "truncated in checkpoint 3"

head -c 4000 "$tmp/good.ckpt" >"$tmp/short.ckpt"
run restore --file "$tmp/short.ckpt"
refused "truncated base" "truncated in checkpoint 0"

# a byte of page data in the last checkpoint, 200 bytes before the end
cp "$tmp/good.ckpt" "$tmp/bad.ckpt"
printf 'X' | dd of="$tmp/bad.ckpt" bs=1 seek=$((size - 200)) conv=notrunc 2>/dev/null
run restore --file "$tmp/bad.ckpt"
refused "a flipped data byte" "corrupt checkpoint 3: checksum mismatch"

# checkpoint 1's header: 24 bytes of file header, then the base's 16-byte
# header, 256 records of 8 + 4096 bytes and its 8-byte checksum
cp "$tmp/good.ckpt" "$tmp/bad.ckpt"
printf 'X' | dd of="$tmp/bad.ckpt" bs=1 seek=$((24 + 16 + 256 * 4104 + 8)) conv=notrunc 2>/dev/null
run restore --file "$tmp/bad.ckpt"
refused "a broken checkpoint header" "corrupt checkpoint 1: bad checkpoint header"

printf 'not a checkpoint' >"$tmp/bad.ckpt"
run restore --file "$tmp/bad.ckpt"
refused "another file" "not a checkpoint file"

run restore --file "$tmp/missing.ckpt"
refused "a missing file" "No such file"

run run --file "$tmp/x.ckpt" --backend nonesuch
is "an unknown backend is a usage error (exit 2)" 2 "$rc"

done_testing
