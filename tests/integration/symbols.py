#!/usr/bin/env python3
"""libusm's public API, as TAP: what `meson install` installs and what
libusm.so exports.

Installs the build into a temporary DESTDIR, then checks that each installed
header compiles on its own and usm.h pulls them all in; that libusm.so
exports exactly the names of lib/libusm.map, that each of them is declared
in an installed header and each function an installed header declares is
among them (so an internal header installed by mistake, or an internal
symbol exported, fails); and that a small program built with
`pkg-config --cflags --libs usm` against the installed tree runs, calls
usm_features_probe and usm_hint, and pages memory with libusm although it
defines internals' names (region_find, fault_missing) of its own.

usage: symbols.py LIBUSM_SO LIBUSM_MAP BUILD_DIR MESON CC B_SANITIZE"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import taplib
from taplib import tap  # next to this script

SO, MAP, BUILD, MESON, CC, SANITIZE = sys.argv[1:7]
TMP = tempfile.mkdtemp(prefix="usm-symbols.")
SAN = [] if SANITIZE in ("", "none") else ["-fsanitize=" + SANITIZE]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def find(top, name):
    """The directory under top holding name (a file or a path such as usm/usm.h)."""
    for d, _, _ in os.walk(top):
        if os.path.exists(os.path.join(d, name)):
            return d
    return None


def map_names():
    """The global names of the version script, comments left out."""
    text = re.sub(r"/\*.*?\*/", "", open(MAP).read(), flags=re.S)
    glob = re.search(r"global:(.*?)local:", text, flags=re.S).group(1)
    return {n.strip() for n in glob.split(";") if n.strip()}


def exported():
    out = run(["nm", "-D", "--defined-only", SO]).stdout
    return {l.split()[-1] for l in out.splitlines() if l.split()}


def declared(inc, headers):
    """usm_* functions and variables the installed headers declare: the
    functions from GCC's -aux-info (what the compiler itself parsed), the
    variables from extern declarations in the headers' preprocessed text."""
    src = os.path.join(TMP, "all.c")
    with open(src, "w") as f:
        f.writelines(f"#include <usm/{h}>\n" for h in headers)
    aux = os.path.join(TMP, "aux.txt")
    r = run([CC, "-D_GNU_SOURCE", "-I", inc, "-fsyntax-only", "-aux-info", aux, src])
    if r.returncode:
        return None, r.stderr
    names = set()
    usmdir = os.path.join(inc, "usm") + "/"
    for line in open(aux):
        m = re.match(r"/\* (\S+):\d+:\w+ \*/ extern .*?\b(usm_\w+) \(", line)
        if m and m.group(1).startswith(usmdir):
            names.add(m.group(2))
    pre = run([CC, "-D_GNU_SOURCE", "-I", inc, "-E", src]).stdout
    ours, text = False, []
    for line in pre.splitlines():  # only the lines of installed headers
        if line.startswith("# "):
            ours = line.split('"')[1].startswith(usmdir) if '"' in line else ours
        elif ours:
            text.append(line)
    for m in re.finditer(r"\bextern\b[^;(]*?\b(usm_\w+)\s*(\[[^]]*\])?\s*;", "\n".join(text)):
        names.add(m.group(1))
    return names, ""


def diff(want, got):
    return (f"missing: {' '.join(sorted(want - got)) or '-'}\n"
            f"extra:   {' '.join(sorted(got - want)) or '-'}")


# ---- make install ----
dest = os.path.join(TMP, "dest")
r = run([MESON, "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", dest])
tap(r.returncode == 0, "meson install into a DESTDIR", r.stdout + r.stderr)
inc = find(dest, "usm/usm.h")
pcdir = find(dest, "usm.pc")
libdir = find(dest, "libusm.so")
tap(inc and pcdir and libdir, "the install has usm/usm.h, usm.pc and libusm.so",
    f"include: {inc}, pkgconfig: {pcdir}, lib: {libdir}")
if not (inc and pcdir and libdir):
    shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(taplib.done())
headers = sorted(h for h in os.listdir(os.path.join(inc, "usm")))

# ---- the installed headers ----
alone = []
for h in headers:
    r = run([CC, "-D_GNU_SOURCE", "-I", inc, "-fsyntax-only", "-x", "c", "-"],
            input=f"#include <usm/{h}>\n")
    if r.returncode:
        alone.append(f"usm/{h}: {r.stderr.strip()}")
tap(not alone, f"each of the {len(headers)} installed headers compiles alone against the "
    "installed tree (none needs an internal header)", "\n".join(alone))

r = run([CC, "-D_GNU_SOURCE", "-I", inc, "-M", "-x", "c", "-"], input="#include <usm/usm.h>\n")
deps = {os.path.basename(p) for p in r.stdout.replace("\\\n", " ").split()
        if p.startswith(os.path.join(inc, "usm") + "/")}
tap(r.returncode == 0 and deps == set(headers), "usm.h pulls in every installed header",
    r.stderr + diff(set(headers), deps))

# ---- the exported symbols ----
listed, exp = map_names(), exported()
tap(exp == listed, f"libusm.so exports exactly the {len(listed)} names of libusm.map",
    diff(listed, exp))
decl, err = declared(inc, headers)
tap(decl is not None, "the installed headers compile together with -aux-info", err)
decl = decl or set()
tap(listed <= decl, "each name in libusm.map is declared in an installed header",
    "not declared: " + " ".join(sorted(listed - decl)))
tap(decl <= listed, "each usm_* function or variable of the installed headers is in libusm.map",
    "not listed: " + " ".join(sorted(decl - listed)))
tap(decl <= exp, "... and exported by libusm.so", "not exported: " + " ".join(sorted(decl - exp)))

# ---- a program of the outside, built with pkg-config ----
PROG = r"""
/* An outside program: pkg-config's flags, public headers only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <usm/usm.h>

/* Names of libusm internals: the library must not call these. */
void *region_find(void *p, unsigned long addr);
void *region_find(void *p, unsigned long addr) { (void)p; (void)addr; abort(); }
int fault_missing(void *p, unsigned long addr);
int fault_missing(void *p, unsigned long addr) { (void)p; (void)addr; abort(); }

int main(void)
{
	struct usm_features f;
	Dl_info info;
	size_t len = 1 << 20;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	setvbuf(stdout, NULL, _IONBF, 0); /* all that was printed, should libusm abort */
	if (m == MAP_FAILED || !dladdr((void *)usm_hint, &info))
		return 1;
	printf("lib %s\n", info.dli_fname);
	printf("features %d\n", usm_features_probe(&f));
	printf("managed %d\n", usm_hint_managed());
	printf("hint %d\n", usm_hint(m, len, USM_HINT_COLD));
	printf("badhint %d\n", usm_hint(m, len, (enum usm_hint_kind)99));

	struct usm_pager_config c;
	struct usm_pager *p;
	struct usm_pager_stats s;
	usm_pager_config_defaults(&c);
	c.limit = 1 << 20;
	if (usm_pager_start(&c, &p) != 0) {
		printf("pager none\n");
		return 0;
	}
	char *r = mmap(NULL, 4 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED || usm_pager_add(p, r, 4 * len) != 0)
		return 1;
	memset(r, 7, 4 * len);
	usm_pager_get_stats(p, &s);
	printf("pager %d %d\n", s.first_touch > 0, s.evictions > 0 && r[len + 5] == 7);
	return 0;
}
"""
src = os.path.join(TMP, "outside.c")
exe = os.path.join(TMP, "outside")
open(src, "w").write(PROG)
env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=dest)
pc = run(["pkg-config", "--cflags", "--libs", "usm"], env=env)
tap(pc.returncode == 0 and "-lusm" in pc.stdout, "pkg-config --cflags --libs usm",
    pc.stdout + pc.stderr)
r = run([CC, *SAN, "-Wall", "-Werror", "-o", exe, src, *pc.stdout.split()])
tap(r.returncode == 0, "a program using usm_hint and usm_features builds against the install",
    r.stderr)
out = run([exe], env=dict(os.environ, LD_LIBRARY_PATH=libdir)) if r.returncode == 0 else None
got = dict(l.split(" ", 1) for l in out.stdout.splitlines()) if out else {}
diag = f"exit {out.returncode}\n{out.stdout}{out.stderr}" if out else "not built"
tap(os.path.realpath(got.get("lib", "")).startswith(os.path.realpath(dest)),
    "it runs against the installed libusm.so", diag)
tap(got.get("features") == "0", "usm_features_probe returns 0", diag)
tap(got.get("managed") == "0" and got.get("hint") == "0" and got.get("badhint") == "-22",
    "usm_hint outside usm run: 0, and -EINVAL for a bad kind", diag)
if got.get("pager") == "none":
    tap(True, "# SKIP no userfaultfd for this user: the pager does not start")
else:
    tap(out is not None and out.returncode == 0 and got.get("pager") == "1 1", "the pager fills and evicts although the program defines "
        "region_find and fault_missing of its own", diag)

shutil.rmtree(TMP, ignore_errors=True)
sys.exit(taplib.done())
