/* usm trace: the control channel of a traced process (Memorizer's debugfs
 * files, as commands). See docs/trace.md.
 *
 * Each traced process listens on an abstract UNIX socket named
 * USM_TRACE_CTL_PREFIX followed by its pid (no file to clean up: it goes
 * with the process). A client sends one command line and reads one reply
 * line: "ok[ detail]" or "error: reason". Only the same user or root may
 * connect. */
#ifndef USM_TRACE_H
#define USM_TRACE_H

#include <stddef.h>
#include <sys/types.h>

#define USM_TRACE_CTL_PREFIX "usm-trace."

/* Sends cmd to process pid and stores its reply line (without newline) in
 * reply. Returns 0 when the process answered (the reply may be an error),
 * -ECONNREFUSED or -ENOENT when pid is not a traced process, another
 * negative errno on failure. */
int usm_trace_ctl(pid_t pid, const char *cmd, char *reply, size_t len);

#endif
