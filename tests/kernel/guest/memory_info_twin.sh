# memory_info.ko and `usm info` agree line for line on the same quiescent
# set of processes (docs/memory_info.md). Runs after memory_info.sh in the
# same boot. The guest's kernel (6.1) has no PAGEMAP_SCAN, so usm info reads
# pagemap entry by entry; with the sanitized usm that is slow on big address
# spaces, so every usm run here selects by name or pid.
. /usm/guest-lib.sh

MI=/proc/memory_info

# Names of their own, so that nothing else in the guest shares them; the
# shell that runs the commands, and usm itself, are none of them.
names="tw_tester tw_pairs tw_solo tw_zero tw_thp tw_mixed busybox_tw"
for n in $names; do
	case $n in
	busybox_*) cp /bin/busybox /tmp/$n ;;	# busybox runs argv[1] as the applet
	*) cp /usm/bin/mi_pages /tmp/$n ;;
	esac
done

# Nothing may move a page of the compared processes between the two reads:
# no compaction of their (mlocked) pages, and khugepaged stopped once the
# huge page is in place (a collapse makes absent ptes present).
echo 0 > /proc/sys/vm/compact_unevictable_allowed
THP=/sys/kernel/mm/transparent_hugepage
[ -e $THP/enabled ] && echo always > $THP/enabled

# Started in sequence, so task-list order (the module's) and ascending pid
# order (usm info's) are the same: the guest's pids are far from wrapping.
ok=1
start /tmp/tw_tester tester || ok=0
start /tmp/tw_pairs RRB || ok=0		# groups of 3 and 2 over two processes
start /tmp/tw_pairs RB || ok=0
start /tmp/tw_solo RRBBU || ok=0	# two pairs and a unique page
start /tmp/tw_zero ZZZ || ok=0		# the shared zero page
start /tmp/tw_zero ZRZ || ok=0
start /tmp/tw_thp thp || ok=0		# a transparent huge page, if given
start /tmp/tw_mixed AAB || ok=0		# three processes, pages alike across them
start /tmp/tw_mixed BCC || ok=0
start /tmp/tw_mixed --- || ok=0
# Not mlocked: a plain program that sleeps (busybox, static). Ready once it
# is in (clock_)nanosleep: its faults are behind it.
/tmp/busybox_tw sleep 100000 & bb=$!
t=0
until read -r nr rest < /proc/$bb/syscall && { [ "$nr" = 35 ] || [ "$nr" = 230 ]; }; do
	[ $t -lt 100 ] || { echo "# busybox_tw never slept: $nr"; ok=0; break; }
	sleep 0.1
	t=$((t + 1))
done
pids="$pids $bb"
check_eq "every test process got ready" 1 $ok

[ -e $THP/enabled ] && echo never > $THP/enabled
thp=$(pidof tw_thp)
echo "# tw_thp AnonHugePages: $(sed -n 's/^AnonHugePages:[[:space:]]*//p' /proc/$thp/smaps_rollup)"

check "insmod memory_info.ko" insmod /usm/memory_info.ko

# module NAME: the module's FILTER line from a fresh snapshot.
module() {
	echo RESET > $MI && echo "FILTER|$1" > $MI && cat $MI
}

for n in $names; do
	want=$(module $n)
	got=$(usm info $n 2>&1)
	check_eq "usm info $n equals FILTER|$n" "$want" "$got"
	# Had anything moved in between, the module would now see it.
	check_eq "$n: the module's line is the same after usm ran" "$want" "$(module $n)"
done

# ALL restricted to these names, against usm info on exactly their pids:
# same lines in the same order.
echo RESET > $MI
echo ALL > $MI
re=$(echo $names | sed 's/ /|/g')
grep -E "^($re), " $MI > /tmp/twall
pidargs=$(for p in $pids; do printf ' --pid %s' $p; done)
usm info $pidargs > /tmp/twusm 2>&1
echo "# ALL: $(wc -l < $MI) lines, $(wc -l < /tmp/twall) of the test's names"
check_eq "ALL restricted to the test's names: as many lines as usm info --pid" \
	"$(wc -l < /tmp/twall)" "$(wc -l < /tmp/twusm)"
check_eq "... one line per name" "$(echo $names | wc -w)" "$(wc -l < /tmp/twall)"
i=0
while IFS= read -r want; do
	i=$((i + 1))
	echo "# $want"
	check_eq "ALL line $i (${want%%, *}) equals usm info --pid's line $i" \
		"$want" "$(sed -n ${i}p /tmp/twusm)"
done < /tmp/twall

check "rmmod memory_info" rmmod memory_info
for p in $pids; do kill $p 2>/dev/null; done
for p in $pids; do wait $p 2>/dev/null; done
echo 1 > /proc/sys/vm/compact_unevictable_allowed
