/* The tracing commands' shared error lines (tracing_error.h). */
#include "tracing_error.h"

#include <errno.h>

#include <usm/features.h>
#include <usm/usm.h>

int tracing_error(const char *cmd, enum tracing_stage stage, int err, const char *events,
		  const char *config, const char *fds_each)
{
	struct usm_features f;

	switch (stage) {
	case TRACING_TRACEFS:
		if (err == -EACCES)
			usm_error("%s: tracefs on /sys/kernel/tracing is root's alone (mode "
				  "0700): run as root, or remount it with gid= and mode= for this user",
				  cmd);
		else if (err == -EPERM)
			usm_error("%s: tracefs is not mounted and mounting it needs "
				  "CAP_SYS_ADMIN (mount -t tracefs nodev /sys/kernel/tracing)",
				  cmd);
		else if (err == -ENODEV)
			usm_error("%s: this kernel has no tracefs (CONFIG_TRACING)", cmd);
		else
			usm_error_errno(err, "%s: mounting tracefs on /sys/kernel/tracing", cmd);
		break;
	case TRACING_TRACEPOINT:
		if (err == -ENOENT)
			usm_error("%s: this kernel has no %s tracepoints (%s)", cmd, events, config);
		else if (err == -EACCES || err == -EPERM)
			usm_error("%s: cannot read the tracepoint ids in tracefs: needs root "
				  "(or tracefs mounted with a mode/gid that lets this user read)",
				  cmd);
		else
			usm_error_errno(err, "%s: reading %s in tracefs", cmd, events);
		break;
	case TRACING_PERF:
		if (usm_features_probe(&f) < 0)
			f.perf_event_paranoid = -99;
		if (err == -EACCES || err == -EPERM)
			usm_error("%s: perf_event_open refused: tracepoint samples need "
				  "CAP_PERFMON or kernel.perf_event_paranoid <= -1 (it is %d), and "
				  "another user's process CAP_SYS_PTRACE",
				  cmd, f.perf_event_paranoid);
		else if (err == -ENOSYS)
			usm_error("%s: this kernel has no perf_event_open (CONFIG_PERF_EVENTS)", cmd);
		else if (err == -EMFILE)
			usm_error("%s: out of file descriptors (%s per thread and CPU): raise "
				  "ulimit -n",
				  cmd, fds_each);
		else
			usm_error_errno(err, "%s: perf_event_open on %s", cmd, events);
		break;
	}
	return 1;
}
