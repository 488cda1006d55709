#!/usr/bin/env python3
"""usm run with its pages on a memcached server that requires SASL, as TAP.

One `memcached -S -M` is started on a free loopback port with its own SASL
configuration (SASL_CONF_PATH: PLAIN against a sasldb made here with
saslpasswd2) and killed at the end. A program under a tight limit gives the
same output with the credentials in a 0600 file; a file others can read, a
wrong password and no credentials are each one line and a non-zero exit
before the program runs, and so are credentials for a server without SASL.
A SASL server speaks only the binary protocol, which cannot list keys: each
process deletes its own pages at exit, which the server's item count proves
(read with `usm store check`, which must see the pages while they are out),
and a process killed with SIGKILL is reported in one line, its pages left. No timing is checked: the program
waits on stdin between filling its memory and reading it back.

usage: memcached_sasl.py USM"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import taplib
from taplib import tap
from mcserver import STARTED, Server
from workloads import TWO_PHASE

USM = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="usm-memcached-sasl-test.")
ENV = dict(os.environ, LC_ALL="C")
for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "MALLOC_PERTURB_"):
    ENV.pop(k, None)
USER, PASSWORD = "usm-test", "pw-" + os.urandom(6).hex()
LIMIT = "16M"

# the same data read back by a fork child, which pages on its own store
FORKED = """
import hashlib, os
data = [bytes([i % 251]) * 4000 + str(i).encode() for i in range(12000)]
pid = os.fork()
if pid == 0:
    h = hashlib.sha256()
    for d in data:
        h.update(d)
    print("child", h.hexdigest(), flush=True)
    raise SystemExit(0)
os.waitpid(pid, 0)
print("parent", len(data), flush=True)
"""

# fills memory, then dies without its exit path
KILLED = """
import os, signal
data = [bytes([i % 251]) * 4000 + str(i).encode() for i in range(12000)]
print("filled", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def sasl_config():
    """DIR with memcached.conf and a sasldb holding USER; memcached reads
    it through SASL_CONF_PATH=DIR (its own name, "memcached", picks the file)."""
    conf = os.path.join(TMP, "sasl")
    os.mkdir(conf)
    db = os.path.join(conf, "sasldb")
    with open(os.path.join(conf, "memcached.conf"), "w") as f:
        f.write(f"mech_list: plain\nsasldb_path: {db}\n")
    subprocess.run(["saslpasswd2", "-a", "memcached", "-c", "-f", db, "-p", USER],
                   input=PASSWORD.encode(), check=True, capture_output=True)
    return conf


def credentials(name, text, mode):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def spec(server, cred=None):
    # a timeout takes a server out; the machine running the tests is shared
    return f"memcached:{server.name()},timeout=60000" + (f",sasl={cred}" if cred else "")


def check(server, cred=None):
    return subprocess.run([USM, "store", "check", "--json", spec(server, cred)],
                          capture_output=True, env=ENV, timeout=300)


def items(server, cred):
    """What the server holds now (it is this test's alone), or None."""
    r = check(server, cred)
    try:
        return json.loads(r.stdout)[0]["items"]
    except (ValueError, LookupError, TypeError):
        return None


def run_usm(args, argv, stdin=None):
    return subprocess.run([USM, "run", "-q", "--limit", LIMIT] + args + ["--"] + argv,
                          input=stdin, capture_output=True, env=ENV, timeout=900)


def native(prog, stdin=None):
    return subprocess.run([sys.executable, "-c", prog], input=stdin, capture_output=True,
                          env=ENV).stdout


def one_line(r):
    return r.stderr.decode(errors="replace").splitlines()


def main():
    missing = [p for p in ("memcached", "saslpasswd2") if not shutil.which(p)]
    if missing:
        taplib.skip("the memcached store with SASL",
                    f"{' and '.join(missing)} not installed (scripts/deps.sh)")
        return taplib.done()
    try:
        server = Server(sasl_conf=sasl_config(), env=ENV)
        good = credentials("cred", f"{USER}:{PASSWORD}\n", 0o600)

        r = check(server, good)
        tap(r.returncode == 0 and f'"server": "{server.name()}"' in r.stdout.decode()
            and '"up": true' in r.stdout.decode() and '"evictions": "off"' in r.stdout.decode(),
            "usm store check with the credentials reports the server: up, eviction off",
            r.stdout.decode() + r.stderr.decode())
        tap(items(server, good) == 0, "the server starts empty")

        # the pages are out while the program waits: the server holds them
        p = subprocess.Popen([USM, "run", "-q", "--limit", LIMIT, "--store", spec(server, good),
                              "--", sys.executable, "-c", TWO_PHASE],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=ENV)
        first = p.stdout.readline()
        held = items(server, good)
        out, err = p.communicate(b"go\n", timeout=900)
        tap(p.returncode == 0 and first + out == native(TWO_PHASE, b"go\n"),
            "a program under a tight limit gives the same output with its pages on the "
            "SASL server", err.decode(errors="replace"))
        tap(held is not None and held > 1000,
            "while it waits, its evicted pages are items on the server (usm store check)",
            f"items: {held}")
        tap(not err and items(server, good) == 0,
            "after the run no key of it is left: the process deleted its own pages, and "
            "usm run said nothing", f"items: {items(server, good)}\n{err.decode()}")

        r = run_usm(["--store", spec(server, good)], [sys.executable, "-c", FORKED])
        tap(r.returncode == 0 and r.stdout == native(FORKED),
            "a fork child pages on the SASL server too", r.stderr.decode(errors="replace"))
        tap(not r.stderr and items(server, good) == 0,
            "and deletes its own pages when it exits", f"items: {items(server, good)}")

        loose = credentials("cred-0644", f"{USER}:{PASSWORD}\n", 0o644)
        r = run_usm(["--store", spec(server, loose)], [sys.executable, "-c", "print('ran')"])
        lines = one_line(r)
        tap(r.returncode == 1 and len(lines) == 1 and "mode 0600 or stricter" in lines[0]
            and loose in lines[0] and not r.stdout,
            "a credentials file with mode 0644 is refused in one line before the program runs",
            f"exit {r.returncode}\n{r.stderr.decode()}{r.stdout.decode()}")

        wrong = credentials("cred-wrong", f"{USER}:not-{PASSWORD}\n", 0o600)
        r = run_usm(["--store", spec(server, wrong)], [sys.executable, "-c", "print('ran')"])
        lines = one_line(r)
        tap(r.returncode == 125 and len(lines) == 1 and "refused the SASL credentials" in lines[0]
            and server.name() in lines[0] and wrong in lines[0] and not r.stdout,
            "a wrong password is one line naming the server and the file, exit 125",
            f"exit {r.returncode}\n{r.stderr.decode()}")
        r = check(server, wrong)
        lines = one_line(r)
        tap(r.returncode == 1 and len(lines) == 1 and "refused the SASL credentials" in lines[0]
            and not r.stdout, "usm store check with a wrong password: one line, exit 1",
            r.stdout.decode() + r.stderr.decode())

        r = run_usm(["--store", spec(server)], [sys.executable, "-c", "print('ran')"])
        lines = one_line(r)
        tap(r.returncode == 125 and len(lines) == 1 and "asks for SASL" in lines[0]
            and "sasl=FILE" in lines[0] and server.name() in lines[0] and not r.stdout,
            "no credentials: one line saying the server asks for SASL, exit 125",
            f"exit {r.returncode}\n{r.stderr.decode()}")
        r = check(server)
        lines = one_line(r)
        tap(r.returncode == 1 and len(lines) == 1 and "asks for SASL" in lines[0],
            "usm store check without credentials: one line saying the server asks for SASL",
            r.stdout.decode() + r.stderr.decode())
        tap(items(server, good) == 0, "the refused runs left nothing on the server")

        plain = Server(env=ENV)
        try:
            r = run_usm(["--store", spec(plain, good)], [sys.executable, "-c", "print('ran')"])
        finally:
            plain.kill()
        lines = one_line(r)
        tap(r.returncode == 125 and len(lines) == 1 and "does not use SASL" in lines[0]
            and plain.name() in lines[0] and not r.stdout,
            "credentials for a server started without -S: one line saying so, exit 125",
            f"exit {r.returncode}\n{r.stderr.decode()}")

        # last: what it leaves stays on the server
        r = run_usm(["--store", spec(server, good)], [sys.executable, "-c", KILLED])
        lines = [l for l in one_line(r) if "ended without deleting" in l]
        left = items(server, good)
        tap(r.returncode == 128 + 9 and r.stdout == b"filled\n" and len(lines) == 1
            and "1 process " in lines[0] and "SASL" in lines[0] and left is not None and left > 0,
            "a process killed with SIGKILL: its pages cannot be found on a SASL server, "
            "and usm run says so in one line", f"exit {r.returncode}, items {left}\n"
            + r.stderr.decode(errors="replace"))
    finally:
        for started in STARTED:
            started.kill()
        shutil.rmtree(TMP, ignore_errors=True)
    return taplib.done()


sys.exit(main())
