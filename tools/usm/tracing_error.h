/* The one-line errors of commands built on tracepoints and perf_event_open
 * (usm syscalls, usm ktrace): what failed and what would fix it. */
#ifndef USM_TRACING_ERROR_H
#define USM_TRACING_ERROR_H

enum tracing_stage {
	TRACING_TRACEFS,    /* finding or mounting tracefs */
	TRACING_TRACEPOINT, /* the tracepoints' ids and formats */
	TRACING_PERF,       /* perf_event_open or its ring buffer */
};

/* Says why stage failed with err, for command cmd ("syscalls") whose
 * tracepoints are `events` ("raw_syscalls") and need kernel option
 * `config` ("CONFIG_FTRACE_SYSCALLS"); fds_each says how many descriptors
 * a thread and CPU take. Returns 1, the failure exit status. */
int tracing_error(const char *cmd, enum tracing_stage stage, int err, const char *events,
		  const char *config, const char *fds_each);

#endif
