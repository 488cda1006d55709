/* Where usm cc and usm trace find libusm-trace.so. */
#ifndef USM_TRACE_PATHS_H
#define USM_TRACE_PATHS_H

#include <stddef.h>

/* $USM_TRACE_LIB if set; else the build tree's copy beside this usm binary
 * (../../runtime/trace/ from tools/usm/); else the installed one in
 * USM_LIBDIR. Returns buf, or NULL when none exists. */
const char *trace_runtime_path(char *buf, size_t len);

#endif
