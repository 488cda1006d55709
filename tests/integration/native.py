"""Runs a workload natively and measures its own peak RSS.

A child forked from a large process starts with that process's resident
size as its ru_maxrss, and exec keeps it: after the test has held a 200 MB
sort output, every workload it forks would report a peak of 600 MB. So the
workload is forked by a small, freshly exec'd launcher, whose child's
rusage is its own."""
import os
import subprocess
import sys
import tempfile

LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss * 1024))
if os.WIFSIGNALED(status):
    os.kill(os.getpid(), os.WTERMSIG(status))
os._exit(os.WEXITSTATUS(status))
"""


def run_native(argv, stdin, env):
    """stdout, exit status, peak RSS in bytes of the workload's process."""
    with tempfile.NamedTemporaryFile(mode="r", prefix="usm-peak.") as peak, \
            open(stdin or os.devnull, "rb") as inp:
        r = subprocess.run([sys.executable, "-c", LAUNCHER, peak.name] + list(argv),
                           stdin=inp, stdout=subprocess.PIPE, env=env)
        return r.stdout, r.returncode, int(peak.read() or 0)
