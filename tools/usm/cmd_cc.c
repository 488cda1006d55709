/* usm cc / usm c++: clang with every load and store of the program's own
 * code turned into a call to the usm trace runtime (docs/trace.md).
 *
 * The instrumentation is clang's AddressSanitizer in outline mode, with
 * the checks it would prove redundant kept (-asan-opt=0) and everything
 * that would need ASan's shadow memory or runtime turned off. Linking adds
 * libusm-trace.so (with an rpath) instead of the ASan runtime. */
#include "builtin.h"
#include "runtime_path.h"

#include <errno.h>
#include <limits.h>
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

static void usage(FILE *out, const char *cmd)
{
	fprintf(out,
	        "usage: usm %s [--usm-verbose] COMPILER-ARGUMENTS...\n"
	        "\n"
	        "Runs %s with the arguments given, adding the instrumentation that\n"
	        "makes every load and store of the program's own code call the usm\n"
	        "trace runtime, and links that runtime (libusm-trace.so). Run the\n"
	        "result under 'usm trace -- PROGRAM'; without it, it runs as usual.\n"
	        "\n"
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

int cmd_cc(int argc, char **argv)
{
	const char *cmd = argv[0];
	bool cxx = !strcmp(cmd, "c++"), verbose = false;
	const char *compiler = getenv(cxx ? "USM_CXX" : "USM_CC");
	char rt[PATH_MAX], rpath[PATH_MAX + 16];
	char **args;
	int n = 0, first = 1;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout, cmd);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--usm-verbose")) {
		verbose = true;
		first = 2;
	}
	if (argc <= first)
		return cli_usage_error(cmd, "no compiler arguments");
	if (!compiler || !*compiler)
		compiler = cxx ? "clang++" : "clang";
	if (!runtime_path(RUNTIME_TRACE, rt, sizeof(rt))) {
		usm_error("%s: cannot find libusm-trace.so (set USM_TRACE_LIB)", cmd);
		return 1;
	}
	args = calloc((size_t)argc + NFLAGS + 4, sizeof(*args));
	if (!args) {
		usm_error("%s: out of memory", cmd);
		return 1;
	}
	args[n++] = (char *)compiler;
	for (size_t i = 0; i < NFLAGS; i++)
		args[n++] = (char *)instrument_flags[i];
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
