# Sourced by the bench scripts: --help from the script's header comment,
# the one-line error for a bad option, and the check that what a script
# runs is there.
bench_name="bench/$(basename "$0")"

# Prints header lines 2..LAST of the script without their "# ", exits 0.
bench_help() {
	sed -n "2,$1s/^# \{0,1\}//p" "$0"
	exit 0
}

bench_bad_option() {
	echo "$bench_name: unknown option '$1'" >&2
	exit 2
}

# bench_need HINT FILE...: exits 1 naming the first FILE missing, and HINT
# (what makes it: "run make first").
bench_need() {
	hint=$1
	shift
	for f; do
		[ -e "$f" ] || { echo "$bench_name: no $f ($hint)" >&2; exit 1; }
	done
}
