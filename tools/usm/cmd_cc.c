/* usm cc / usm c++: clang with every load and store of the program's own
 * code counted by the usm trace runtime (docs/trace.md).
 *
 * By default the usm trace pass (libusm-tracepass.so, a clang 14 plugin)
 * gives each access an inline counting fast path. clang's AddressSanitizer
 * stays, its load and store checks off: it still registers the globals
 * and modules and routes memcpy/memset to the runtime. --outline (and a
 * missing pass) is the older mode: ASan's checks as a call per access,
 * with the checks it would prove redundant kept (-asan-opt=0). Either way
 * everything that would need ASan's shadow memory or runtime is off, and
 * linking adds libusm-trace.so (with an rpath) instead of ASan's runtime. */
#include "builtin.h"
#include "runtime_path.h"

#include <errno.h>
#include <limits.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <usm/usm.h>

static const char *const instrument_flags[] = {
        "-fsanitize=address",
        /* no ASan runtime: ours defines the callbacks */
        "-fno-sanitize-link-runtime",
        /* fake stacks and scope poisoning need ASan's runtime and shadow */
        "-fsanitize-address-use-after-return=never",
        "-fno-sanitize-address-use-after-scope",
        "-mllvm",
        "-asan-stack=0",
        /* a call per access, never an inline shadow check */
        "-mllvm",
        "-asan-instrumentation-with-call-threshold=0",
        /* keep the checks ASan drops as redundant: counts must be exact */
        "-mllvm",
        "-asan-opt=0",
};
#define NFLAGS (sizeof(instrument_flags) / sizeof(instrument_flags[0]))

/* With the pass: ASan counts nothing itself (the pass covers these). */
static const char *const inline_flags[] = {
        "-mllvm", "-asan-instrument-reads=0", "-mllvm", "-asan-instrument-writes=0",
        "-mllvm", "-asan-instrument-atomics=0", "-mllvm", "-asan-instrument-byval=0",
};
#define NINLINE (sizeof(inline_flags) / sizeof(inline_flags[0]))

static void usage(FILE *out, const char *cmd)
{
	fprintf(out,
	        "usage: usm %s [--outline] [--usm-verbose] COMPILER-ARGUMENTS...\n"
	        "\n"
	        "Runs %s with the arguments given, adding the instrumentation that\n"
	        "makes every load and store of the program's own code count in the usm\n"
	        "trace runtime, and links that runtime (libusm-trace.so). Run the\n"
	        "result under 'usm trace -- PROGRAM'; without it, it runs as usual.\n"
	        "\n"
	        "  --outline       a runtime call per access instead of the usm trace\n"
	        "                  pass's inline counting (the compiler must be clang 14\n"
	        "                  for the pass; without the pass, outline is used)\n"
	        "  --usm-verbose   print the compiler command line on stderr first\n"
	        "  -h, --help      show this help (as the only argument)\n"
	        "\n"
	        "The compiler is $USM_CC (default clang) for cc, $USM_CXX (default\n"
	        "clang++) for c++. See docs/trace.md for the flags and what is not seen.\n",
	        cmd, strcmp(cmd, "c++") ? "clang" : "clang++");
}

/* Whether this invocation links: not when it stops earlier. */
static bool links(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-c") || !strcmp(a, "-S") || !strcmp(a, "-E") || !strcmp(a, "-M") ||
		    !strcmp(a, "-MM") || !strcmp(a, "-fsyntax-only"))
			return false;
	}
	return true;
}

/* The major version `compiler -dumpversion` prints, or -1 (and why, in
 * err) when it cannot be run or prints something else. */
static int compiler_major(const char *compiler, char *err, size_t len)
{
	char out[64] = "";
	int fd[2], status;
	ssize_t got = 0, r;
	pid_t pid;

	if (pipe(fd)) {
		snprintf(err, len, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(err, len, "fork: %s", strerror(errno));
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		execlp(compiler, compiler, "-dumpversion", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while (got < (ssize_t)sizeof(out) - 1 &&
	       (r = read(fd[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += r;
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, len, "cannot run '%s -dumpversion'", compiler);
		return -1;
	}
	if (out[0] < '0' || out[0] > '9') {
		snprintf(err, len, "'%s -dumpversion' printed no version", compiler);
		return -1;
	}
	return atoi(out);
}

/* The pass's path in pass, or false for outline mode (said on stderr when
 * the pass is missing); *refused when the compiler cannot load it. */
static bool use_pass(const char *cmd, const char *compiler, char *pass, size_t len, bool *refused)
{
	const char *want = USM_TRACEPASS_LLVM_MAJOR;
	char err[PATH_MAX + 64];
	int major;

	*refused = false;
	if (!*want || !runtime_path(RUNTIME_TRACEPASS, pass, len)) {
		fprintf(stderr, "usm: %s: the usm trace pass (libusm-tracepass.so) is %s: outline mode\n",
		        cmd, *want ? "not found (set USM_TRACE_PASS)" : "not built (no llvm-config-14)");
		return false;
	}
	major = compiler_major(compiler, err, sizeof(err));
	if (major < 0) {
		usm_error("%s: %s", cmd, err);
		*refused = true;
		return false;
	}
	if (major != atoi(want)) {
		usm_error("%s: '%s' is clang %d, the usm trace pass is built for LLVM %s: use clang-%s "
		          "($%s) or usm %s --outline",
		          cmd, compiler, major, want, want, strcmp(cmd, "c++") ? "USM_CC" : "USM_CXX",
		          cmd);
		*refused = true;
		return false;
	}
	return true;
}

int cmd_cc(int argc, char **argv)
{
	const char *cmd = argv[0];
	bool cxx = !strcmp(cmd, "c++"), verbose = false, outline = false, refused;
	const char *compiler = getenv(cxx ? "USM_CXX" : "USM_CC");
	char rt[PATH_MAX], rpath[PATH_MAX + 16], pass[PATH_MAX], plugin[PATH_MAX + 32];
	char **args;
	int n = 0, first = 1;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout, cmd);
		return 0;
	}
	for (; first < argc; first++) {
		if (!strcmp(argv[first], "--usm-verbose"))
			verbose = true;
		else if (!strcmp(argv[first], "--outline"))
			outline = true;
		else
			break;
	}
	if (argc <= first)
		return cli_usage_error(cmd, "no compiler arguments");
	if (!compiler || !*compiler)
		compiler = cxx ? "clang++" : "clang";
	if (!runtime_path(RUNTIME_TRACE, rt, sizeof(rt))) {
		usm_error("%s: cannot find libusm-trace.so (set USM_TRACE_LIB)", cmd);
		return 1;
	}
	if (!outline) {
		outline = !use_pass(cmd, compiler, pass, sizeof(pass), &refused);
		if (refused)
			return 1;
	}
	args = calloc((size_t)argc + NFLAGS + NINLINE + 5, sizeof(*args));
	if (!args) {
		usm_error("%s: out of memory", cmd);
		return 1;
	}
	args[n++] = (char *)compiler;
	for (size_t i = 0; i < NFLAGS; i++)
		args[n++] = (char *)instrument_flags[i];
	if (!outline) {
		snprintf(plugin, sizeof(plugin), "-fpass-plugin=%s", pass);
		args[n++] = plugin;
		for (size_t i = 0; i < NINLINE; i++)
			args[n++] = (char *)inline_flags[i];
	}
	for (int i = first; i < argc; i++)
		args[n++] = argv[i];
	if (links(argc, argv)) {
		char *slash;

		args[n++] = rt;
		snprintf(rpath, sizeof(rpath), "-Wl,-rpath,%s", rt);
		slash = strrchr(rpath, '/');
		if (slash)
			*slash = 0;
		args[n++] = rpath;
	}
	args[n] = NULL;
	if (verbose) {
		for (int i = 0; i < n; i++)
			fprintf(stderr, "%s%s", i ? " " : "", args[i]);
		fputc('\n', stderr);
	}
	fflush(NULL);
	execvp(compiler, args);
	usm_error("%s: cannot run '%s': %s", cmd, compiler, strerror(errno));
	free(args);
	return 1;
}
