/* Where usm finds the runtimes it preloads or links: libusm-tagger.so
 * (usm run) and libusm-trace.so (usm trace, usm cc), and the clang plugin
 * usm cc loads, libusm-tracepass.so. */
#ifndef USM_RUNTIME_PATH_H
#define USM_RUNTIME_PATH_H

#include <stddef.h>

enum usm_runtime {
	RUNTIME_TAGGER, /* $USM_TAGGER, runtime/tagger/, USM_LIBDIR/usm/ */
	RUNTIME_TRACE,  /* $USM_TRACE_LIB, runtime/trace/, USM_LIBDIR/ */
	RUNTIME_TRACEPASS, /* $USM_TRACE_PASS, runtime/tracepass/, USM_LIBDIR/usm/ */
};

/* The runtime's environment variable when set and not empty (then only
 * that file); else the build tree's copy beside this usm binary
 * (../../runtime/NAME/ from tools/usm/), made absolute; else the installed
 * one. Returns buf, or NULL when the file is not there or not readable. */
const char *runtime_path(enum usm_runtime rt, char *buf, size_t len);

#endif
