/* Finding a runtime: a usm run from its build directory must use the
 * runtime built with it, an installed usm the installed one; an
 * environment variable overrides both. One lookup for both runtimes. */
#include "runtime_path.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef USM_LIBDIR
#define USM_LIBDIR "/usr/local/lib"
#endif

static const struct {
	const char *env;
	const char *dir; /* under runtime/ in the source and build trees */
	const char *file;
	const char *installed; /* the directory meson installs it to */
} runtimes[] = {
	[RUNTIME_TAGGER] = { "USM_TAGGER", "tagger", "libusm-tagger.so", USM_LIBDIR "/usm" },
	[RUNTIME_TRACE] = { "USM_TRACE_LIB", "trace", "libusm-trace.so", USM_LIBDIR },
	[RUNTIME_TRACEPASS] = { "USM_TRACE_PASS", "tracepass", "libusm-tracepass.so",
	                        USM_LIBDIR "/usm" },
};

static const char *found(char *buf, size_t len, const char *path)
{
	if (access(path, R_OK) != 0 || strlen(path) >= len)
		return NULL;
	snprintf(buf, len, "%s", path);
	return buf;
}

const char *runtime_path(enum usm_runtime rt, char *buf, size_t len)
{
	const char *env = getenv(runtimes[rt].env);
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n;

	if (env && *env)
		return found(buf, len, env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, sizeof(path), "%s/../../runtime/%s/%s", exe,
				 runtimes[rt].dir, runtimes[rt].file);
			if (found(buf, len, path)) {
				char *real = realpath(path, NULL);

				if (real) {
					snprintf(buf, len, "%s", real);
					free(real);
				}
				return buf;
			}
		}
	}
	snprintf(path, sizeof(path), "%s/%s", runtimes[rt].installed, runtimes[rt].file);
	return found(buf, len, path);
}
