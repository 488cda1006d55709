"""memcached -M servers for the tests, on free loopback ports: started
ready (they answer), asked in their text protocol, their usm keys listed
(`lru_crawler metadump all`), and killed; or servers that require SASL.
Shared by memcached.py, memcached_sasl.py and usmd_purge.py; every server started is in STARTED, for a test to kill at
its end whatever happened."""
import os
import socket
import subprocess
import time
import urllib.parse


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port, command, until=b"END\r\n"):
    """One text command to a server; its whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(command)
        reply = b""
        while not reply.endswith(until):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply


STARTED = []  # every server this test started, killed at the end whatever happens


class Server:
    # 128 MB: with --replicas 1 after a death, the two servers left hold two
    # copies of the two-phase program's ~48 MB (and memcached's slab waste);
    # 64 MB ran full once in five runs
    def __init__(self, memory_mb=128, no_evict=True, port=None, sasl_conf=None, env=None):
        """sasl_conf: a directory for SASL_CONF_PATH, and the server requires
        SASL (-S); such a server refuses the text protocol, so it is ready
        when it accepts a connection."""
        STARTED.append(self)
        self.port = port or free_port()
        argv = ["memcached"] + (["-S"] if sasl_conf else []) + [
            "-m", str(memory_mb), "-p", str(self.port), "-l", "127.0.0.1",
            "-U", "0"] + (["-M"] if no_evict else [])
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        env = dict(env or os.environ, SASL_CONF_PATH=sasl_conf) if sasl_conf else env
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        # ready when it answers (a connection refused until it listens)
        for _ in range(500):
            try:
                if sasl_conf:
                    socket.create_connection(("127.0.0.1", self.port), timeout=10).close()
                    return
                if ask(self.port, b"version\r\n", b"\r\n").startswith(b"VERSION"):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.01)
        raise RuntimeError(f"memcached on port {self.port} did not start")

    def name(self):
        return f"127.0.0.1:{self.port}"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def dump(self):
        """Every key=... line of the server; a crawl another client runs
        (a purge) makes it BUSY for a while, so ask again."""
        for _ in range(3000):
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                s.sendall(b"lru_crawler metadump all\r\n")
                reply = b""
                while not reply.endswith(b"END\r\n") and not reply.startswith(b"BUSY"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
            if not reply.startswith(b"BUSY"):
                return reply.decode(errors="replace").splitlines()
            time.sleep(0.02)
        raise RuntimeError(f"memcached on port {self.port} stayed busy crawling")

    def usm_keys(self):
        return [l for l in self.dump() if l.startswith("key=usm%3A")]

    def keys(self, prefix=""):
        """The server's keys that start with prefix, decoded."""
        keys = [urllib.parse.unquote(l.split()[0][4:]) for l in self.dump()
                if l.startswith("key=")]
        return [k for k in keys if k.startswith(prefix)]

    def set(self, key, value=b"x"):
        reply = ask(self.port, b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(value), value),
                    b"\r\n")
        if reply != b"STORED\r\n":
            raise RuntimeError(f"set {key}: {reply!r}")


def spec(servers):
    # a timeout takes a server out; the machine running the tests is shared
    return "memcached:" + ",".join(s.name() for s in servers) + ",timeout=60000"
