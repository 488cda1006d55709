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
