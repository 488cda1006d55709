/* tracefs: finding (and, when allowed, mounting) it, and reading a
 * tracepoint's id, which perf_event_open takes as attr.config. */
#ifndef USM_OS_TRACEFS_H
#define USM_OS_TRACEFS_H

#include <stdbool.h>
#include <stddef.h>

/* Finds a mounted tracefs (one whose events/ directory exists) at
 * /sys/kernel/tracing or /sys/kernel/debug/tracing. When none is mounted
 * and may_mount is true, mounts tracefs on /sys/kernel/tracing and sets
 * *mounted. Writes the directory to dir. Returns 0, -EACCES when it is
 * mounted there but this process may not look inside (dir is set), -EPERM
 * when it is not mounted and this process may not mount it, -ENODEV when
 * the kernel has no tracefs, or another negative errno. */
int usm_os_tracefs_find(char *dir, size_t len, bool may_mount, bool *mounted);

/* The id of tracepoint system:event under tracefs directory dir.
 * Returns it (> 0), -ENOENT when the kernel has no such tracepoint, or
 * another negative errno (-EACCES: the id file is not readable). */
int usm_os_tracepoint_id(const char *dir, const char *system, const char *event);

/* The byte offset of field `field` in the raw records of tracepoint
 * system:event, from its format file. Returns 0 or a negative errno
 * (-ENOENT: no such tracepoint or field). */
int usm_os_tracepoint_field(const char *dir, const char *system, const char *event,
			    const char *field, unsigned *offset, unsigned *size);

#endif
