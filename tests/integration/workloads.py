"""Workloads shared by the usm run and usmd tests."""

# millions of dict and list entries, then a digest
PYTHON_WORK = """
import hashlib
d = {i: str(i) * 3 for i in range(1500000)}
l = [(i * 7919) % 1000003 for i in range(2000000)]
l.sort()
h = hashlib.sha256()
for k in range(0, 1500000, 7):
    h.update(d[k].encode())
h.update(str(sum(l[::3])).encode())
print(len(d), len(l), h.hexdigest())
"""

# issue 16's perl hash: every insert touches the bucket array and a chain
# scattered over the heap (docs/performance.md measures it)
PERL_HASH = ('my %h; $h{$_ * 7919 % 1000003} = "v$_" x 3 for 1 .. 200000; '
             'my $s = 0; $s += length($h{$_}) for keys %h; print scalar(keys %h), " $s\n"')

# python3 sorting tuples: pointer chasing over the whole heap (half of the
# million that docs/performance.md measures, for the test's time)
PYTHON_SORT = """
import random
r = random.Random(1)
l = [(r.random(), i, str(i)) for i in range(500000)]
l.sort()
print(len(l), l[0][1], l[-1][1], sum(t[1] for t in l[:1000]))
"""

# ~48 MB of 4 KiB objects, read back after a line on stdin: between the
# two, with a limit of TWO_PHASE_LIMIT, most of its pages are in the store
TWO_PHASE = """
import hashlib, sys
data = [bytes([i % 251]) * 4000 + str(i).encode() for i in range(12000)]
print("ready", flush=True)
sys.stdin.readline()
h = hashlib.sha256()
for d in data:
    h.update(d)
print(len(data), h.hexdigest(), flush=True)
"""
TWO_PHASE_LIMIT = "16M"
