#!/usr/bin/env python3
"""usm ktrace (docs/ktrace.md) on this host's stock kernel: a program that
makes and closes N pipes is recorded with exactly the pipe_inode_info
objects those pipes cause (the N and 2N runs differ by what N more pipes
cause), each allocated in alloc_pipe_info and freed in the pipe's release,
named through FILE.kallsyms (page blocks by their callchain's first
caller outside the page allocator); the CAPMAP is well formed and has no access
lines, and both report commands read it; -p PID and --comm record what they
must (--comm alone on the whole system); a one-page ring buffer under a heavy pattern loses events and says
so everywhere; bad input is one line and a non-zero exit. Needs root.

usage: ktrace.py USM KTRACE_PIPES"""
import bisect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from taplib import done, skip, tap

USM, PIPES = sys.argv[1], sys.argv[2]
# where a pipe's objects are freed: free_pipe_info, or pipe_release that
# the compiler folded part of it into
PIPE_FREE = {"free_pipe_info", "pipe_release", "put_pipe_info"}
TMP = tempfile.mkdtemp(prefix="usm-ktrace-")


def usm(*args, **kw):
    return subprocess.run([USM, *args], capture_output=True, text=True, **kw)


class Capmap:
    """A ktrace CAPMAP read here, independently of libusm's reader."""

    def __init__(self, path):
        self.header, self.objs, self.access_lines = {}, [], 0
        with open(path) as f:
            for line in f:
                if line.startswith("# "):
                    k, v = line[2:].rstrip("\n").split("=")
                    self.header[k] = int(v)
                elif line.startswith("  "):
                    self.access_lines += 1
                else:
                    fl = line.rstrip("\n").split(",")
                    self.objs.append({"alloc_ip": int(fl[0], 16), "pid": int(fl[1]),
                                      "size": int(fl[3]), "free_time": int(fl[5]),
                                      "free_ip": int(fl[6], 16), "allocator": fl[7],
                                      "process": fl[8]})
        self.syms = []
        if os.path.exists(path + ".kallsyms"):
            with open(path + ".kallsyms") as f:
                for line in f:
                    a, _, name = line.split()[:3]
                    self.syms.append((int(a, 16), name))
            self.syms.sort()
        self.addrs = [a for a, _ in self.syms]

    def function(self, ip):
        """The symbol a return address's call is in, or None."""
        i = bisect.bisect_right(self.addrs, ip - 1) - 1
        return self.syms[i][1] if 0 <= i < len(self.syms) - 1 else None

    def count(self, alloc_fn, free_fns=None):
        """Objects allocated in alloc_fn (and freed in one of free_fns)."""
        return sum(1 for o in self.objs if self.function(o["alloc_ip"]) == alloc_fn and
                   (free_fns is None or (o["free_time"] and self.function(o["free_ip"]) in free_fns)))


def record(name, *args):
    """Runs usm ktrace -o NAME ARGS; returns (process, path)."""
    path = os.path.join(TMP, name)
    return usm("ktrace", "-o", path, *args), path


def one_line_error(name, r, want_rc, words):
    lines = r.stderr.strip().splitlines()
    tap(r.returncode == want_rc and len(lines) == 1 and words in lines[0],
        f"{name}: exit {want_rc} and one line saying '{words}'",
        f"rc={r.returncode} stderr={r.stderr!r}")


def main():
    if os.geteuid() != 0:
        skip("usm ktrace", "needs root for the kmem tracepoints and perf_event_open")
        return done()

    # 1: N = 0, 200, 400 pipes under usm ktrace -- CMD
    maps = {}
    for n in (0, 200, 400):
        r, path = record(f"pipes{n}.capmap", "--", PIPES, str(n))
        tap(r.returncode == 0, f"-- CMD with {n} pipes exits 0", r.stderr)
        maps[n] = Capmap(path)
        m = maps[n]
        tap(m.header.get("lost_events") == 0 and "throttled" in m.header,
            f"{n} pipes: the header says no event was lost, and how often it was throttled",
            m.header)
        tap(m.access_lines == 0 and m.objs, f"{n} pipes: objects and no access lines",
            f"{len(m.objs)} objects, {m.access_lines} access lines")
        reports = [usm(cmd, "report", "--json", path) for cmd in ("trace", "ktrace")]
        ok = all(x.returncode == 0 for x in reports)
        js = [json.loads(x.stdout) for x in reports] if ok else []
        tap(ok and js[0] == js[1] and js[0]["objects"] == len(m.objs) and
            js[0]["header"] == m.header,
            f"{n} pipes: usm trace report and usm ktrace report read it alike, header too",
            "\n".join(x.stderr for x in reports))
    per = {n: maps[n].count("alloc_pipe_info") for n in maps}
    freed = {n: maps[n].count("alloc_pipe_info", PIPE_FREE) for n in maps}
    k = (per[200] - per[0]) // 200
    tap(per[0] == 0 and k >= 1 and per[200] == 200 * k and per[400] == 400 * k,
        "alloc_pipe_info's objects scale with the pipes: the 2N run has N pipes' more",
        per)
    tap(freed == per, "every one of them is freed in the pipe's release (free_pipe_info)", (per, freed))
    pipe_objs = [o for o in maps[200].objs if maps[200].function(o["alloc_ip"]) == "alloc_pipe_info"]
    tap(all(o["allocator"] == "kmalloc" and o["process"] == "ktrace_pipes" for o in pipe_objs),
        "they are kmalloc objects of the process ktrace_pipes",
        {(o["allocator"], o["process"]) for o in pipe_objs})
    pages = [maps[200].function(o["alloc_ip"]) for o in maps[200].objs if o["allocator"] == "page"]
    tap(pages and all(pages) and not any("alloc_pages" in f or "alloc_frozen" in f for f in pages),
        "page blocks are named by their first caller outside the page allocator (callchain)",
        sorted(set(map(str, pages))))
    text = usm("ktrace", "report", os.path.join(TMP, "pipes200.capmap"))
    tap(text.returncode == 0 and "alloc_pipe_info+0x" in text.stdout and
        "recorder: lost_events=0" in text.stdout,
        "the text report names the sites from FILE.kallsyms and shows the header",
        text.stdout[:2000] + text.stderr)

    page = os.path.join(TMP, "pipes200.html")
    r = usm("ktrace", "report", "--html", page, os.path.join(TMP, "pipes200.capmap"))
    data = open(page).read() if r.returncode == 0 else ""
    want = '"header":' + json.dumps(maps[200].header, separators=(",", ":"))
    tap(r.returncode == 0 and want in data and "alloc_pipe_info" in data,
        "usm ktrace report --html writes the page with the header and the named sites",
        r.stderr + want)

    # 2: -p PID: a running process, attached before it makes 300 pipes
    prog = subprocess.Popen([PIPES, "300", "wait"], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    ready = prog.stderr.readline()
    path = os.path.join(TMP, "pid.capmap")
    tr = subprocess.Popen([USM, "ktrace", "-o", path, "-p", str(prog.pid)],
                          stderr=subprocess.PIPE, text=True)
    started = tr.stderr.readline()
    prog.stdin.write(b"g")
    prog.stdin.close()
    prog.wait()
    rest = tr.stderr.read()
    tr.wait()
    tap(ready == b"ready\n" and "recording process" in started and tr.returncode == 0,
        "-p PID attaches, then ends when the process does", started + rest)
    m = Capmap(path)
    tap(m.count("alloc_pipe_info", PIPE_FREE) == 300 * k and m.header.get("lost_events") == 0,
        "-p PID records the 300 pipes' objects, all freed", (m.count("alloc_pipe_info"), m.header))

    # 3: --comm: only the tasks of that name, under a shell that makes none itself
    r, path = record("comm.capmap", "--comm", "ktrace_pipes", "--",
                     "sh", "-c", f"{PIPES} 100; {PIPES} 50; exec 3>&-")
    m = Capmap(path)
    procs = {o["process"] for o in m.objs}
    tap(r.returncode == 0 and procs == {"ktrace_pipes"} and
        m.count("alloc_pipe_info", PIPE_FREE) == 150 * k,
        "--comm NAME records the children of that name only, and all their pipes",
        (r.stderr, procs, m.count("alloc_pipe_info")))

    # 3b: --comm alone: every task of that name on the whole system, until
    # SIGINT; the program under a name of its own, so no other run is counted
    name = f"ktsw{os.getpid() % 100000}"
    copy = os.path.join(TMP, name)
    shutil.copy(PIPES, copy)
    path = os.path.join(TMP, "system.capmap")
    tr = subprocess.Popen([USM, "ktrace", "-o", path, "--comm", name],
                          stderr=subprocess.PIPE, text=True)
    started = tr.stderr.readline()
    runs = [subprocess.run([copy, n]).returncode for n in ("100", "60")]
    tr.send_signal(signal.SIGINT)
    rest = tr.stderr.read()
    tr.wait()
    m = Capmap(path)
    procs = {o["process"] for o in m.objs}
    tap("recording tasks named" in started and runs == [0, 0] and tr.returncode == 0 and
        procs == {name} and m.count("alloc_pipe_info", PIPE_FREE) == 160 * k and
        m.header.get("lost_events") == 0,
        "--comm NAME alone records every task of the name, on the whole system, until SIGINT",
        (started + rest, procs, m.count("alloc_pipe_info"), m.header))

    # 4: a one-page ring under 3000 pipes while usm ktrace is stopped, so
    # that nothing reads it: events are lost whatever the machine's speed,
    # and said so
    prog = subprocess.Popen([PIPES, "3000", "wait"], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    prog.stderr.readline()
    path = os.path.join(TMP, "lost.capmap")
    tr = subprocess.Popen([USM, "ktrace", "-o", path, "--buffer-pages", "1", "-p", str(prog.pid)],
                          stderr=subprocess.PIPE, text=True)
    started = tr.stderr.readline()
    tr.send_signal(signal.SIGSTOP)
    prog.stdin.write(b"g")
    prog.stdin.close()
    prog.wait()
    tr.send_signal(signal.SIGCONT)
    rest = tr.stderr.read()
    tr.wait()
    m = Capmap(path)
    lost = m.header.get("lost_events", 0)
    tap("recording process" in started and tr.returncode == 0 and lost > 0 and
        f"lost_events={lost}" in rest and "dropped" in rest and
        m.count("alloc_pipe_info") < 3000 * k,
        "--buffer-pages 1 under 3000 pipes unread: lost events in the header and the summary",
        (m.header, started + rest, m.count("alloc_pipe_info")))
    text = usm("ktrace", "report", path)
    tap(text.returncode == 0 and f"lost_events={lost}" in text.stdout and
        "warning: the recorder lost" in text.stdout,
        "the report shows the loss and warns", text.stdout[:600] + text.stderr)

    # 5: bad input: one line, non-zero
    one_line_error("no target", usm("ktrace"), 2, "give a command")
    one_line_error("--buffer-pages 3", usm("ktrace", "--buffer-pages", "3", "--", "true"), 2,
                   "power of two")
    one_line_error("--comm too long", usm("ktrace", "--comm", "x" * 16, "--", "true"), 2,
                   "--comm")
    one_line_error("-p and a command", usm("ktrace", "-p", "1", "--", "true"), 2, "not both")
    gone = subprocess.Popen(["true"])
    gone.wait()
    one_line_error("-p of no process", usm("ktrace", "-o", os.path.join(TMP, "x"), "-p",
                                           str(gone.pid)), 1, f"no process {gone.pid}")
    one_line_error("unwritable output", usm("ktrace", "-o", "/nonexistent/dir/x", "--", "true"),
                   1, "/nonexistent/dir/x")
    one_line_error("no such command", usm("ktrace", "-o", os.path.join(TMP, "y"), "--",
                                          "/nonexistent/cmd"), 127, "cannot run")
    one_line_error("report of no file", usm("ktrace", "report", "/nonexistent.capmap"), 1,
                   "/nonexistent.capmap")
    return done()


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        subprocess.run(["rm", "-rf", TMP])
