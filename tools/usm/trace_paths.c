/* Finding the trace runtime: a usm run from its build directory must use
 * the runtime built with it, an installed usm the installed one. */
#include "trace_paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef USM_LIBDIR
#define USM_LIBDIR "/usr/local/lib"
#endif

static const char *found(char *buf, size_t len, const char *path)
{
	if (access(path, R_OK) != 0 || strlen(path) >= len)
		return NULL;
	snprintf(buf, len, "%s", path);
	return buf;
}

const char *trace_runtime_path(char *buf, size_t len)
{
	const char *env = getenv("USM_TRACE_LIB");
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
			snprintf(path, sizeof(path), "%s/../../runtime/trace/libusm-trace.so", exe);
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
	return found(buf, len, USM_LIBDIR "/libusm-trace.so");
}
