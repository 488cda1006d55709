# libusm's supervisor mechanisms on the packaged kernel (Debian 12's 6.1: no
# PAGEMAP_SCAN, no UFFD_FEATURE_WP_ASYNC, no WP_UNPOPULATED), where the
# fallbacks are the ones chosen: the tests/unit programs for dirty tracking,
# page facts, write-protect callbacks and features, built against libusm's
# static archive, and what usm features says about this kernel.
. /usm/guest-lib.sh

# A cmocka program's TAP cases as checks named "NAME: case"; a skipped case
# ("not ok N # SKIP case" from cmocka) as a skip; an exit without every case
# (a crash) as a failure.
unit() { # unit NAME
	CMOCKA_MESSAGE_OUTPUT=TAP guest_test_$1 >/tmp/unit.$1 2>&1
	rc=$?
	sed -e "s/^ok [0-9]* - /ok - $1: /" \
	    -e "s/^not ok [0-9]* # SKIP \(.*\)/ok - $1: \1 # SKIP/" \
	    -e "s/^not ok [0-9]* - /not ok - $1: /" /tmp/unit.$1 | grep -v '^1\.\.'
	[ $rc = 0 ] || echo "not ok - $1: exited with status $rc"
}

feature() { # feature KEY: its value in usm features --json
	usm features --json | sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"
}

# What this kernel lacks, and what libusm picks instead
check_eq "6.1 has no PAGEMAP_SCAN" false "$(feature pagemap_scan)"
check_eq "6.1 has no WP_ASYNC" false "$(feature uffd_wp_async)"
check_eq "6.1 has no WP_UNPOPULATED" false "$(feature uffd_wp_unpopulated)"
check_eq "6.1 has no UFFDIO_POISON" false "$(feature uffd_poison)"
check_eq "6.1 has no UFFDIO_MOVE" false "$(feature uffd_move)"
check_eq "6.1 has UFFD_FEATURE_SIGBUS" true "$(feature uffd_sigbus)"
check_eq "6.1 has soft-dirty bits (CONFIG_MEM_SOFT_DIRTY)" true "$(feature soft_dirty)"
check_eq "6.1 has MADV_COLLAPSE" true "$(feature madv_collapse)"
check_eq "dirty tracking's auto picks softdirty on 6.1" softdirty "$(feature dirty_auto)"
echo "# hardware breakpoints in the guest: $(feature hw_breakpoints), THP $(feature thp_enabled)"

unit features
unit dirty
unit pagefacts
unit wprotect
# the pager without UFFDIO_POISON: a page the store cannot return stops the
# process; its mem store spills to $TMPDIR, else /var/tmp, which the
# initramfs lacks
mkdir -p /var/tmp
unit pager

# examples/checkpoint restores byte-identical memory on each backend here
# (softdirty included, which the development machine's kernel lacks)
for b in auto softdirty uffd mprotect; do
	check "checkpoint: $b: the base and 4 increments restore the live region" \
		checkpoint verify --backend $b --file /tmp/region.ckpt --size 8M --rounds 4 --write-pct 2
done
check "checkpoint: auto takes softdirty" sh -c \
	'checkpoint run --file /tmp/region.ckpt --size 1M --rounds 1 | grep -q "^backend softdirty,"'
check_fails "checkpoint: scan is refused as not available" \
	checkpoint run --backend scan --file /tmp/region.ckpt --size 1M
rm -f /tmp/region.ckpt
