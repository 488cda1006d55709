# memory_info.ko in the packaged kernel: /proc/memory_info's commands,
# errors and figures (docs/memory_info.md), load/unload cycles, and
# concurrent writers while processes come and go.
. /usm/guest-lib.sh

MI=/proc/memory_info
RE_LINE='^.{1,15}, total: [0-9]+, valid: [0-9]+, invalid: [0-9]+, may_be_shared: [0-9]+, nb_group: [0-9]+, pid\([0-9]+\): [0-9]+(; [0-9]+)*$'
RE_MSG='^\[SUCCESS\]$|^\[ERROR\]: (Invalid argument|Bad address|No such process|Memory allocation error)$'

# cmd TEXT: write TEXT and a newline, as echo does; print what the file reads.
cmd() {
	echo "$1" > $MI || return 1
	cat $MI
}

# is_line TEXT: TEXT is one line of the ALL/FILTER format.
is_line() {
	printf '%s\n' "$1" | grep -Eq "$RE_LINE"
}

# field NAME LINE: the number after "NAME: " in an ALL/FILTER line.
field() {
	printf '%s\n' "$2" | sed -n "s/.*, $1: \([0-9]*\).*/\1/p"
}

# snapshot PROG ARGS...: one PROG per ARGS word, started in order; sets
# $line to the FILTER line of PROG's name while they all run, and $started
# to their pids.
snapshot() {
	prog=$1; shift
	started=''
	for arg in "$@"; do
		start $prog $arg || return 1
		started="$started $pid"
	done
	cmd RESET > /dev/null
	line=$(cmd FILTER\|${prog##*/})
	stop $started
	return 0	# not stop's status: a killed process's
}

# delta WHAT FIELD BEFORE AFTER WANT: check that FIELD grew by WANT.
delta() {
	b=$(field $2 "$3") a=$(field $2 "$4")
	check_eq "$1: $2 +$5" "$5" "$((a - b))"
}

# Test programs under names of their own (comm = executable name).
for n in mi_tester mi_pic1a mi_pic1b mi_zero mi_thp mi_del mi_x; do
	cp /usm/bin/mi_pages /tmp/$n
done

check "insmod memory_info.ko" insmod /usm/memory_info.ko
check "/proc/memory_info exists" test -e $MI
check_eq "/proc/memory_info is 0644" "644" "$(stat -c %a $MI)"
check_eq "fail_alloc is root's only (0600)" "600" \
	"$(stat -c %a /sys/module/memory_info/parameters/fail_alloc)"
check_eq "reads empty before any command" "0" "$(wc -c < $MI)"

# ---- the course's tester: 10000 read-only pages of 0xFF
start /tmp/mi_tester tester; tester=$pid
out=$(cmd RESET)
check_eq "RESET reads [SUCCESS]" "[SUCCESS]" "$out"
check_eq "[SUCCESS] ends with a newline (10 bytes)" "10" "$(wc -c < $MI)"
line=$(cmd FILTER\|mi_tester)
echo "# $line"
check "FILTER|mi_tester matches the format" is_line "$line"
check_eq "the FILTER line ends with a newline" "0a" "$(tail -c 1 $MI | od -An -tx1 | tr -d ' ')"
check "tester: valid >= 10000" test "$(field valid "$line")" -ge 10000
check "tester: may_be_shared >= 10000" test "$(field may_be_shared "$line")" -ge 10000
check "tester: nb_group >= 1" test "$(field nb_group "$line")" -ge 1
check_eq "tester: pid(1) is its pid" "pid(1): $tester" "${line##*, }"
vmsize=$(sed -n "s/^VmSize:[[:space:]]*\([0-9]*\) kB/\1/p" /proc/$tester/status)
check_eq "tester: total is VmSize / 4" "$((vmsize / 4))" "$(field total "$line")"
check_eq "FILTER is an exact match (prefix)" "[ERROR]: No such process" "$(cmd FILTER\|mi_teste)"
stop $tester

# ---- the pictures: exact increase over the same programs without the pages
# 1a: two processes of one name, groups of 3 and 2 identical pages.
snapshot /tmp/mi_pic1a --- -- && base=$line
snapshot /tmp/mi_pic1a RRB RB && with=$line && set -- $started && a=$1 b=$2
echo "# without: $base"
echo "# with:    $with"
check_eq "picture 1a: pid(2) in task-list order" "pid(2): $a; $b" "${with##*, }"
delta "picture 1a" may_be_shared "$base" "$with" 5
delta "picture 1a" nb_group "$base" "$with" 2
delta "picture 1a" valid "$base" "$with" 5
delta "picture 1a" total "$base" "$with" 5

# 1b: one process, two identical pairs and a unique page.
snapshot /tmp/mi_pic1b ----- && base=$line
snapshot /tmp/mi_pic1b RRBBU && with=$line
echo "# without: $base"
echo "# with:    $with"
delta "picture 1b" may_be_shared "$base" "$with" 4
delta "picture 1b" nb_group "$base" "$with" 2
delta "picture 1b" valid "$base" "$with" 5
delta "picture 1b" invalid "$base" "$with" 0

# The shared zero page is present and is a page of zeros. The process has
# zero-filled stack pages already, so the group of zeros exists without.
snapshot /tmp/mi_zero --- && base=$line
snapshot /tmp/mi_zero ZZZ && with=$line
echo "# without: $base"
echo "# with:    $with"
delta "zero page" valid "$base" "$with" 3
delta "zero page" may_be_shared "$base" "$with" 3
delta "zero page" nb_group "$base" "$with" 0

# A transparent huge page counts 512, each 4 KiB part compared alone.
if [ -e /sys/kernel/mm/transparent_hugepage/enabled ]; then
	echo always > /sys/kernel/mm/transparent_hugepage/enabled
fi
start /tmp/mi_thp th- && a=$pid
cmd RESET > /dev/null
base=$(cmd FILTER\|mi_thp)
stop $a
start /tmp/mi_thp thp && a=$pid
thp=$(sed -n 's/^AnonHugePages:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$a/smaps_rollup)
cmd RESET > /dev/null
with=$(cmd FILTER\|mi_thp)
stop $a
echo "# without: $base"
echo "# with:    $with (AnonHugePages: ${thp:-?} kB)"
if [ -e /sys/kernel/mm/transparent_hugepage/enabled ]; then
	check "THP: the region is a huge page" test "${thp:-0}" -ge 2048
fi
delta "THP" valid "$base" "$with" 512
delta "THP" may_be_shared "$base" "$with" 512
delta "THP" nb_group "$base" "$with" 2

# ---- ALL: format, figures, order
start /tmp/mi_x -- && x1=$pid && start /tmp/mi_x -- && x2=$pid
cmd RESET > /dev/null
echo ALL > $MI
cat $MI > /tmp/all
lines=$(wc -l < /tmp/all)
echo "# ALL: $lines lines"
check "ALL has lines" test "$lines" -ge 3
check_fails "every ALL line matches the format" grep -Evq "$RE_LINE" /tmp/all
check_eq "ALL ends with a newline" "0a" "$(tail -c 1 $MI | od -An -tx1 | tr -d ' ')"
check_eq "ALL: invalid is total - valid, pid(k) has k pids" "" "$(awk -F', ' '{
	split($2, t, ": "); split($3, v, ": "); split($4, i, ": ")
	if (i[2] != t[2] - v[2]) print "invalid: " $0
	k = $7; sub(/^pid\(/, "", k); sub(/\).*/, "", k)
	p = $0; sub(/.*\): /, "", p); n = split(p, a, "; ")
	if (n != k) print "pids: " $0
}' /tmp/all)"
check_eq "ALL: names are unique" "" "$(sed 's/, total: .*//' /tmp/all | sort | uniq -d)"
check_eq "ALL: pids are unique" "" "$(sed 's/.*): //' /tmp/all | tr ';' '\n' | tr -d ' ' | sort | uniq -d)"
check "ALL: first line is pid 1's name" sh -c "head -n 1 /tmp/all | grep -Eq ': 1(;|\$)'"
me=$$
check "ALL: this shell is listed" grep -Eq "[:;] $me(;|\$)" /tmp/all
check_eq "ALL: mi_x line ends with its two pids" "pid(2): $x1; $x2" "$(grep '^mi_x, ' /tmp/all | sed 's/.*, //')"
check_eq "FILTER line equals the ALL line" "$(grep '^mi_x, ' /tmp/all)" "$(cmd FILTER\|mi_x)"
stop $x1 $x2
check_eq "ALL is a snapshot: no rescan" "$(cat /tmp/all)" "$(cmd ALL)"

# ---- DEL, then RESET after the processes exited
start /tmp/mi_del --- && d=$pid
cmd RESET > /dev/null
check "FILTER|mi_del finds it" sh -c "echo 'FILTER|mi_del' > $MI && grep -q '^mi_del, ' $MI"
check_eq "DEL|mi_del reads [SUCCESS]" "[SUCCESS]" "$(cmd DEL\|mi_del)"
check_eq "FILTER after DEL: No such process" "[ERROR]: No such process" "$(cmd FILTER\|mi_del)"
check_eq "DEL twice: No such process" "[ERROR]: No such process" "$(cmd DEL\|mi_del)"
check_eq "ALL after DEL lacks it" "" "$(cmd ALL | grep '^mi_del, ')"
cmd RESET > /dev/null
check "RESET brings it back" sh -c "echo 'FILTER|mi_del' > $MI && grep -q '^mi_del, ' $MI"
stop $d
cmd RESET > /dev/null
check_eq "RESET after it exited: No such process" "[ERROR]: No such process" "$(cmd FILTER\|mi_del)"
check_eq "ALL after it exited lacks it" "" "$(cmd ALL | grep '^mi_del, ')"

# DEL of every name: ALL then reads empty.
cmd ALL | sed 's/, total: .*//' > /tmp/names
while IFS= read -r n; do echo "DEL|$n" > $MI; done < /tmp/names
check_eq "ALL of an empty snapshot reads empty" "0" "$(echo ALL > $MI; wc -c < $MI)"
check_eq "RESET refills it" "[SUCCESS]" "$(cmd RESET)"

# ---- errors: write() status, the file's text, the kernel log
# bad TEXT ERRNO MESSAGE: one write() of TEXT (escapes: \n \r \xHH).
bad() {
	check_eq "write '$1' fails with $2" "$2" "$(mi_write "$1")"
	check_eq "write '$1' then reads $3" "[ERROR]: $3" "$(cat $MI)"
}
bad 'ALL extra\n' EINVAL "Invalid argument"
bad 'ALL \n' EINVAL "Invalid argument"
bad 'ALL\r\n' EINVAL "Invalid argument"
bad 'reset\n' EINVAL "Invalid argument"
bad 'RESET\n\n' EINVAL "Invalid argument"
bad 'HELLO\n' EINVAL "Invalid argument"
bad '\n' EINVAL "Invalid argument"
bad 'FILTER\n' EINVAL "Invalid argument"
bad 'FILTER|\n' EINVAL "Invalid argument"
bad 'FILTER|\n\n' EINVAL "Invalid argument"
bad 'FILTER|sh\n\n' EINVAL "Invalid argument"
bad 'FILTER sh\n' EINVAL "Invalid argument"
bad 'FILTER|0123456789abcdef\n' EINVAL "Invalid argument"
bad 'FILTER|0123456789abcdef' EINVAL "Invalid argument"
bad 'FILTER|s\x00h\n' EINVAL "Invalid argument"
bad 'DEL\n' EINVAL "Invalid argument"
bad 'DEL|\n' EINVAL "Invalid argument"
bad 'DEL|0123456789abcdefg\n' EINVAL "Invalid argument"
bad 'ALL\x00\n' EINVAL "Invalid argument"
bad '' EINVAL "Invalid argument"
check_eq "an error ends with a newline" "26" "$(wc -c < $MI)"
check_eq "write of 65 bytes fails with EINVAL" "EINVAL" "$(mi_write -s 65)"
check_eq "write of 4096 bytes fails with EINVAL" "EINVAL" "$(mi_write -s 4096)"
check "bad user pointer: EFAULT, then reads Bad address" mi_badwrite
check "kernel log has the error lines, exactly" sh -c "dmesg | grep -Eq '^(\[ *[0-9.]+\] )?\[ERROR\]: Bad address\$' && dmesg | grep -Eq '^(\[ *[0-9.]+\] )?\[ERROR\]: Invalid argument\$'"
check_eq "write 'RESET' without newline" "ok" "$(mi_write RESET)"
check_eq "FILTER of a missing 15-byte name: write succeeds" "ok" "$(mi_write 'FILTER|0123456789abcde\n')"
check_eq "... and reads No such process" "[ERROR]: No such process" "$(cat $MI)"
check_eq "DEL of a missing name: write succeeds" "ok" "$(mi_write 'DEL|nosuchname\n')"
check_eq "... and reads No such process" "[ERROR]: No such process" "$(cat $MI)"
# A name is taken byte for byte: a space or \r before the newline is part of it.
check_eq "FILTER|sh + space: write succeeds" "ok" "$(mi_write 'FILTER|sh \n')"
check_eq "... and reads No such process" "[ERROR]: No such process" "$(cat $MI)"
check_eq "FILTER|sh + CR LF: write succeeds" "ok" "$(mi_write 'FILTER|sh\r\n')"
check_eq "... and reads No such process" "[ERROR]: No such process" "$(cat $MI)"
check "FILTER|sh itself is found" sh -c "echo 'FILTER|sh' > $MI && grep -q '^sh, ' $MI"
check_eq "a failed command keeps the snapshot" "[SUCCESS]" "$(mi_write 'ALL extra\n' >/dev/null; cmd DEL\|sh)"

# ---- ENOMEM: the module's fail_alloc parameter makes its N-th allocation
# fail. Every N up to the first RESET that succeeds reaches another error
# path: each must fail with ENOMEM and leave the snapshot as it was. The
# tester's 10000 pages are referenced while it is counted: if a path leaked
# those references, its 40 MB would not come back when it exits.
P=/sys/module/memory_info/parameters/fail_alloc
memfree() { sed -n 's/^MemFree:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo; }
free0=$(memfree)
start /tmp/mi_tester tester; tester=$pid
cmd RESET > /dev/null
cmd ALL > /tmp/all0
n=1 bad=0
while [ $n -le 200 ]; do
	echo $n > $P
	r=$(mi_write 'RESET\n')
	echo 0 > $P
	[ "$r" = ok ] && break
	[ "$r" = ENOMEM ] || bad=$((bad + 1))
	[ "$(cat $MI)" = "[ERROR]: Memory allocation error" ] || bad=$((bad + 1))
	[ "$(cmd ALL)" = "$(cat /tmp/all0)" ] || bad=$((bad + 1))
	n=$((n + 1))
done
echo "# RESET succeeded from fail_alloc=$n on"
check "RESET failed for several allocations before succeeding" test $n -gt 5 -a $n -lt 200
check_eq "each failed RESET: ENOMEM, message, snapshot kept" 0 $bad
echo 1 > $P
check_eq "ALL with its allocation failing: ENOMEM" "ENOMEM" "$(mi_write 'ALL\n')"
check_eq "... and reads Memory allocation error" "[ERROR]: Memory allocation error" "$(cat $MI)"
echo 0 > $P
stop $tester
cmd RESET > /dev/null
free1=$(memfree)
echo "# MemFree before the tester: $free0 kB, after it exited: $free1 kB"
check "no page reference leaked (MemFree back within 8 MB)" test $free1 -ge $((free0 - 8192))

# An open file keeps what it began to read; rmmod with it open is safe.
cmd RESET > /dev/null
cmd ALL > /dev/null
exec 3< $MI
read -r first <&3
check "an open file reads the ALL result" is_line "$first"
echo RESET > $MI
check "rmmod with the file open" rmmod memory_info
check_fails "reading it afterwards fails" cat <&3
exec 3<&-

# fail_alloc given at load time: the load-time snapshot fails, so does insmod.
check_fails "insmod with fail_alloc=1 fails" insmod /usm/memory_info.ko fail_alloc=1
check_fails "... and leaves no /proc/memory_info" test -e $MI

# ---- 100 load/unload cycles
fails=0
i=0
while [ $i -lt 100 ]; do
	insmod /usm/memory_info.ko || fails=$((fails + 1))
	[ "$(cmd RESET)" = "[SUCCESS]" ] || fails=$((fails + 1))
	rmmod memory_info || fails=$((fails + 1))
	i=$((i + 1))
done
check_eq "100 load, RESET, unload cycles" 0 $fails

# ---- concurrency: writers and readers while processes fork, exec and exit
insmod /usm/memory_info.ko
rm -f /tmp/stop /tmp/badread
# reader_writer CMD...: loop until /tmp/stop, every read checked whole.
reader_writer() {
	while [ ! -e /tmp/stop ]; do
		for c in "$@"; do
			echo "$c" > $MI 2>/dev/null
			out=$(cat $MI)
			if [ -n "$out" ] && printf '%s\n' "$out" | grep -Evq "$RE_LINE|$RE_MSG"; then
				printf '%s\n' "after $c:" "$out" >> /tmp/badread
			fi
		done
	done
}
mi_forker 20 & forker=$!
reader_writer RESET ALL & w1=$!
reader_writer ALL FILTER\|mi_forker FILTER\|exe & w2=$!
reader_writer RESET FILTER\|sh DEL\|sh ALL & w3=$!
reader_writer FILTER\|init DEL\|mi_forker & w4=$!
wait $forker
check_eq "forker ran 20 s beside 4 writers" 0 $?
touch /tmp/stop
wait $w1 $w2 $w3 $w4
check_eq "every concurrent read was one whole result" "" "$(head -n 20 /tmp/badread 2>/dev/null)"
check_eq "RESET afterwards" "[SUCCESS]" "$(cmd RESET)"

# rmmod and insmod while a writer keeps using the file.
rm -f /tmp/stop
reader_writer ALL RESET 2>/dev/null & w1=$!
fails=0
i=0
while [ $i -lt 20 ]; do
	rmmod memory_info || fails=$((fails + 1))
	insmod /usm/memory_info.ko || fails=$((fails + 1))
	i=$((i + 1))
done
touch /tmp/stop
wait $w1
check_eq "20 unload/load cycles under a busy writer" 0 $fails
check "rmmod memory_info" rmmod memory_info
check_fails "/proc/memory_info is gone" test -e $MI
