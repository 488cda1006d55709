# Memorizer with tiny pools (memorizer_objects=1000 memorizer_accesses=100 on
# the command line): records stop at the pools' size and what did not fit
# is counted, never invented, and the kernel keeps running.
. /usm/guest-lib.sh

mount -t debugfs none /sys/kernel/debug
M=/sys/kernel/debug/memorizer
stat_of() { sed -n "s/^$1 //p" $M/show_stats; }

check_eq "the object pool has the size the command line asked" 1000 "$(stat_of objects_capacity)"
check_eq "the access pool has the size the command line asked" 100 "$(stat_of access_records_capacity)"
check "boot's objects beyond the pool are counted as dropped" test "$(stat_of objects_dropped)" -gt 0
used=$(( $(stat_of objects_live) + $(stat_of objects_dead) + $(stat_of objects_printed) ))
check "the records in use never exceed the pool" test "$used" -le 1000
echo 1 > $M/print_live_obj
cat $M/kmap > /tmp/kmap
check_eq "kmap prints exactly the live and freed records" "$used" "$(grep -c '^[^ ]' /tmp/kmap)"

echo 1 > $M/memorizer_log_access
ls -l / > /dev/null
echo hello | cat > /dev/null
echo 0 > $M/memorizer_log_access
check_eq "access records stop at the pool's size" 100 "$(stat_of access_records)"
check "accesses beyond the pool are counted as dropped" test "$(stat_of accesses_dropped)" -gt 0
printed=$(stat_of objects_printed)
check "kmap moved the freed records it printed to the printed list" test "$printed" -gt 0
echo 1 > $M/clear_dead_objs
check_eq "clear_dead_objs gives the printed records back" 0 "$(stat_of objects_printed)"
echo "# $(tr '\n' ' ' < $M/show_stats)"
