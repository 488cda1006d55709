# Sourced by integration tests: TAP output helpers for POSIX sh.
#   ok_if NAME CMD...   ok when CMD exits 0
#   is NAME WANT GOT    ok when equal
#   checker_results FILE [PREFIX]
#                       lines "ok NAME" / "not ok NAME: why" of a checker
#                       program, as TAP cases (names after PREFIX)
#   done_testing        prints the plan; exits 1 when anything failed
tap_n=0
tap_failed=0

tap_result() { # STATUS NAME [DIAG]
	tap_n=$((tap_n + 1))
	if [ "$1" = ok ]; then
		echo "ok $tap_n - $2"
	else
		tap_failed=$((tap_failed + 1))
		echo "not ok $tap_n - $2"
		[ -n "${3-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
	fi
	return 0
}

ok_if() {
	name=$1; shift
	if out=$("$@" 2>&1); then tap_result ok "$name"; else tap_result fail "$name" "$out"; fi
}

is() {
	if [ "$2" = "$3" ]; then tap_result ok "$1"; else tap_result fail "$1" "want: $2
got:  $3"; fi
}

checker_results() {
	while IFS= read -r l; do
		case $l in
		"ok "*) tap_result ok "${2-}${l#ok }" ;;
		"not ok "*) tap_result fail "${2-}${l#not ok }" ;;
		esac
	done <"$1"
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
