# Memorizer in the guest (the patched kernel of kernel/memorizer/): the test
# module's known objects and accesses from two CPUs are recorded exactly in
# kmap, each debugfs control does what it says, and a workload's kmap is a
# CAPMAP that usm trace report reads; a socket echo over loopback is recorded
# with its skb objects, named through /proc/kallsyms.
. /usm/guest-lib.sh

mount -t debugfs none /sys/kernel/debug
M=/sys/kernel/debug/memorizer
for f in kmap memorizer_enabled memorizer_log_access print_live_obj \
	clear_dead_objs clear_printed_list show_stats; do
	check "debugfs has memorizer/$f" test -e $M/$f
done
stat_of() { sed -n "s/^$1 //p" $M/show_stats; }
check "show_stats counts the objects recorded since boot" test "$(stat_of objects_recorded)" -gt 0

# The test module's line "memorizer_test: NAME VA SIZE": VA as kmap writes it.
va_of() { dmesg | sed -n "s/.*memorizer_test: $1 \([0-9a-f]*\) .*/\1/p" | tail -n 1; }
# kmap's object line for VA in FILE that the test threads touched: a slab
# object can start where its slab's page record does, and a freed page's
# record can share a va with the page allocated after it.
obj_line() {
	awk -F, -v va="$2" -v p0="$p0" -v p1="$p1" '
		/^[^ ]/ { line = $0; cur = ($3 == va) }
		/^  / && cur && ($4 == p0 || $4 == p1) { print line; cur = 0 }' "$1" | tail -n 1
}
sum_for() { # FILE VA PID -> "writes reads"
	awk -F, -v va="$2" -v pid="$3" '
		/^[^ ]/ { cur = ($3 == va) }
		/^  / && cur && $4 == pid { w += $2; r += $3 }
		END { printf "%d %d\n", w, r }' "$1"
}
field() { echo "$1" | cut -d, -f"$2"; }

# --- the module's objects, accesses from CPU 0 and CPU 1 ---------------------
# Boot's freed objects fill the pool; forget them so the module's are kept.
echo 1 > $M/clear_dead_objs
dropped0="$(stat_of objects_dropped) $(stat_of accesses_dropped)"
echo "# after boot: $(tr '\n' ' ' < $M/show_stats)"
echo 1 > $M/memorizer_enabled
echo 1 > $M/memorizer_log_access
echo 1 > $M/print_live_obj
check "memorizer_test.ko loads" insmod /usm/memorizer_test.ko
echo 0 > $M/memorizer_log_access
pids=$(dmesg | sed -n 's/.*memorizer_test: pids //p' | tail -n 1)
p0=${pids% *} p1=${pids#* }
A=$(va_of A) B=$(va_of B) C=$(va_of C) D=$(va_of D)
cat $M/kmap > /tmp/kmap1
check_eq "no record was dropped while the module's were made" "$dropped0" \
	"$(stat_of objects_dropped) $(stat_of accesses_dropped)"
a=$(obj_line /tmp/kmap1 "$A") b=$(obj_line /tmp/kmap1 "$B")
c=$(obj_line /tmp/kmap1 "$C") d=$(obj_line /tmp/kmap1 "$D")
check_eq "A is a kmalloc object of 64 bytes from the 64-byte class" "64,kmalloc,64" \
	"$(field "$a" 4),$(field "$a" 8),$(field "$a" 10)"
check_eq "B is a kmem_cache object of 48 bytes" "48,kmem_cache" "$(field "$b" 4),$(field "$b" 8)"
check_eq "C is a vmalloc area of 8192 bytes" "8192,vmalloc,-" \
	"$(field "$c" 4),$(field "$c" 8),$(field "$c" 10)"
check_eq "D is a page of 4096 bytes" "4096,page" "$(field "$d" 4),$(field "$d" 8)"
check_eq "A was allocated by insmod" "insmod" "$(field "$a" 9)"
check "A and C are freed: free time and free IP set" test "$(field "$a" 6)" != 0 -a \
	"$(field "$a" 7)" != 0 -a "$(field "$c" 6)" != 0 -a "$(field "$c" 7)" != 0
check_eq "B and D are live: free time and free IP 0" "0,0,0,0" \
	"$(field "$b" 6),$(field "$b" 7),$(field "$d" 6),$(field "$d" 7)"
check_eq "A: CPU 0's thread made 1000 writes and 300 reads" "1000 300" "$(sum_for /tmp/kmap1 "$A" "$p0")"
check_eq "A: CPU 1's thread made 700 writes and 500 reads" "700 500" "$(sum_for /tmp/kmap1 "$A" "$p1")"
check_eq "B: 50 writes from CPU 0, none from CPU 1" "50 0/0 0" \
	"$(sum_for /tmp/kmap1 "$B" "$p0")/$(sum_for /tmp/kmap1 "$B" "$p1")"
check_eq "C: 40 writes and 60 reads from CPU 1" "40 60/0 0" \
	"$(sum_for /tmp/kmap1 "$C" "$p1")/$(sum_for /tmp/kmap1 "$C" "$p0")"
check_eq "D: 20 writes and 10 reads from CPU 0" "20 10" "$(sum_for /tmp/kmap1 "$D" "$p0")"
check_eq "A's access lines are one per (IP, thread), for the two threads only" "ok" \
	"$(awk -F, -v va="$A" -v p0="$p0" -v p1="$p1" '
		/^[^ ]/ { cur = ($3 == va) }
		/^  / && cur { if (seen[$1 "," $4]++ || ($4 != p0 && $4 != p1)) bad = 1; n++ }
		END { print (n >= 2 && !bad) ? "ok" : "bad: " n " lines" }' /tmp/kmap1)"

# --- the controls --------------------------------------------------------
cat $M/kmap > /tmp/kmap2
check_eq "a second kmap leaves out the freed objects the first printed" "" \
	"$(obj_line /tmp/kmap2 "$A")$(obj_line /tmp/kmap2 "$C" | grep ',vmalloc,insmod,')"
check "a second kmap still has the live objects (print_live_obj 1)" \
	sh -c "grep -q ',$B,48,' /tmp/kmap2 && grep -q ',$D,4096,' /tmp/kmap2"
echo 0 > $M/print_live_obj
cat $M/kmap > /tmp/kmap3
check_eq "print_live_obj 0 leaves the live objects out" "" \
	"$(grep -e ",$B,48,[0-9]*,0,0," -e ",$D,4096,[0-9]*,0,0," /tmp/kmap3)"
check "print_live_obj reads back as N" grep -qx N $M/print_live_obj
check "rmmod memorizer_test" rmmod memorizer_test
cat $M/kmap > /tmp/kmap4
b4=$(grep ",$B,48,.*,kmem_cache," /tmp/kmap4 | tail -n 1)
check "B's free at rmmod is in the next kmap, with its free IP" test -n "$b4" -a "$(field "$b4" 7)" != 0
check "show_stats counts printed objects" test "$(stat_of objects_printed)" -gt 0
echo 1 > $M/clear_printed_list
check_eq "clear_printed_list forgets every printed object" 0 "$(stat_of objects_printed)"

# clear_dead_objs: the module's freed objects of a second load, never printed,
# are gone; kmap never shows them.
insmod /usm/memorizer_test.ko
A2=$(va_of A)
echo 1 > $M/clear_dead_objs
cat $M/kmap > /tmp/kmap5
check_eq "clear_dead_objs forgets the freed objects no kmap printed" "" \
	"$(grep ",$A2,64,[0-9]*,[1-9][0-9]*,.*,kmalloc,insmod," /tmp/kmap5)"
check "clear_dead_objs keeps the live ones" sh -c "echo 1 > $M/print_live_obj; grep -q ',$(va_of B),48,' $M/kmap"
rmmod memorizer_test

# memorizer_enabled 0: a third load's objects are not recorded at all.
echo 1 > $M/clear_dead_objs
echo 0 > $M/memorizer_enabled
insmod /usm/memorizer_test.ko
echo 1 > $M/memorizer_enabled
check_eq "memorizer_enabled 0 records no allocation" "" \
	"$(grep -e ",$(va_of B),48,.*,kmem_cache,insmod," -e ",$(va_of A),64,.*,kmalloc,insmod," $M/kmap)"
rmmod memorizer_test

# memorizer_log_access 0: objects recorded, no access lines for them.
echo 1 > $M/clear_dead_objs
insmod /usm/memorizer_test.ko
cat $M/kmap > /tmp/kmap6
B3=$(va_of B)
check "memorizer_log_access 0 records the objects" grep -q ",$B3,48,.*,kmem_cache,insmod," /tmp/kmap6
check_eq "memorizer_log_access 0 records no access to them" "0 0" "$(sum_for /tmp/kmap6 "$B3" "$(dmesg | sed -n 's/.*memorizer_test: pids \([0-9]*\) .*/\1/p' | tail -n 1)")"
rmmod memorizer_test

# --- a workload, through usm trace report ----------------------------------
echo 1 > $M/clear_dead_objs
echo 1 > $M/clear_printed_list
echo 1 > $M/memorizer_log_access
ls -l / > /dev/null
echo hello | cat | wc -c > /tmp/wc.out
echo 0 > $M/memorizer_log_access
cat $M/kmap > /tmp/kmap.w
check_eq "the workload ran" 6 "$(cat /tmp/wc.out)"
check "the workload's kmap has kmalloc objects with access lines" \
	awk -F, '/^[^ ]/ { k = ($8 == "kmalloc") } /^  / && k { n++ } END { exit !(n > 0) }' /tmp/kmap.w
check "usm trace report reads the workload's kmap" usm trace report /tmp/kmap.w
usm trace report --json /tmp/kmap.w > /tmp/report.json 2>&1
check "usm trace report --json counts its objects" grep -q '"objects": *[1-9]' /tmp/report.json
echo "# $(grep -c '^[^ ]' /tmp/kmap.w) objects, $(grep -c '^  ' /tmp/kmap.w) access lines; $(tr '\n' ' ' < $M/show_stats)"

# --- a socket echo over loopback --------------------------------------------
# One line through busybox nc's echo server (cat on the accepted socket):
# TCP allocates its skbs in __alloc_skb, so the kmap of the exchange has
# objects whose alloc_ip /proc/kallsyms names __alloc_skb.
check "loopback comes up" ip link set lo up
echo 1 > $M/clear_dead_objs
echo 1 > $M/clear_printed_list
objs0=$(stat_of objects_recorded)
echo 1 > $M/memorizer_log_access
nc -l -p 7777 -e cat &
server=$!
line="usm socket echo $$"
echoed=''
for i in $(seq 50); do	# until the server listens
	echoed=$(echo "$line" | timeout 20 nc 127.0.0.1 7777 2>/dev/null) && [ -n "$echoed" ] && break
	sleep 0.1
done
echo 0 > $M/memorizer_log_access
kill $server 2>/dev/null; wait $server 2>/dev/null
cat $M/kmap > /tmp/kmap.s
cp /proc/kallsyms /tmp/kmap.s.kallsyms
check_eq "the echo server sends the line back" "$line" "$echoed"
check "the echo recorded new objects" test "$(stat_of objects_recorded)" -gt "$objs0"
check_eq "the echo's kmap is well-formed: 10-field objects, 4-field access lines" "ok" \
	"$(awk -F, '/^#/ { next } /^  / { if (NF != 4) bad++; next } { n++; if (NF != 10) bad++ }
		END { print (n > 0 && !bad) ? "ok" : "bad: " bad " of " n }' /tmp/kmap.s)"
# usm ktrace report: the same report as usm trace report, for kernel CAPMAPs
check "usm ktrace report reads the echo's kmap" usm ktrace report /tmp/kmap.s
usm ktrace report --json /tmp/kmap.s > /tmp/report.s.json 2>&1
check "usm ktrace report --json counts the echo's objects" grep -q '"objects": *[1-9]' /tmp/report.s.json
check "usm ktrace report names __alloc_skb among the echo's sites" grep -q '__alloc_skb' /tmp/report.s.json
# __alloc_skb's range in kallsyms, to its next symbol; kernel addresses have
# 16 hex digits in both files, so they compare as strings.
check_eq "nc allocated skbs in __alloc_skb during the echo" "ok" \
	"$(awk -F, 'NR == FNR { split($0, f, " ")
			if (f[3] == "__alloc_skb") start = f[1]; else a[NR] = f[1]; next }
		!done { done = 1; for (i in a) if (a[i] > start && (end == "" || a[i] < end)) end = a[i] }
		/^[^ #]/ && $1 >= start && $1 < end && $9 == "nc" { n++ }
		END { print (start != "" && n > 0) ? "ok" : "none in " start "-" end }' \
		/tmp/kmap.s.kallsyms /tmp/kmap.s)"
echo "# echo: $(grep -c '^[^ #]' /tmp/kmap.s) objects, $(grep -c '^  ' /tmp/kmap.s) access lines"
