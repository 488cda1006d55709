/* libusm-trace's start and end: configuration from the environment usm
 * trace sets, the trace clock, fork handling, and the final CAPMAP.
 *
 * Without USM_TRACE_ACTIVE=1 the runtime stays passive: a program built by
 * usm cc then runs as usual, paying only a flag test per access. */
#include "access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"

struct rt_state rt = {.enabled = 1, .log_access = 1, .print_live = 1};
RT_EXPORT int rt_record_accesses;
int rt_record_objects;
__thread int rt_busy RT_TLS;
static __thread pid_t tid_cache RT_TLS;

void rt_update_flags(void)
{
	int objs = rt.active && rt.ready && !RT_LOAD(&rt.finished) && RT_LOAD(&rt.enabled);

	RT_STORE(&rt_record_objects, objs);
	RT_STORE(&rt_record_accesses, objs && RT_LOAD(&rt.log_access));
}

uint64_t rt_now(void)
{
	return usm_now_ns() - rt.t0;
}

pid_t rt_gettid(void)
{
	if (!tid_cache)
		tid_cache = (pid_t)syscall(SYS_gettid);
	return tid_cache;
}

static int env_flag(const char *name, int def)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return def;
	return strcmp(v, "0") && strcmp(v, "off");
}

/* The root process (the one usm trace started) writes the path it was
 * given; any other process (a fork, or a program it ran) adds its pid, so
 * that no two processes write one file. */
static void set_output(void)
{
	const char *out = getenv("USM_TRACE_OUTPUT");

	if (!out || !*out)
		out = "usm.capmap";
	if (rt.pid == rt.root_pid)
		snprintf(rt.output, sizeof(rt.output), "%s", out);
	else
		snprintf(rt.output, sizeof(rt.output), "%s.%d", out, (int)rt.pid);
}

/* Every lock of the runtime is held across fork, so that the child
 * inherits none held by a thread it does not have. They are taken in the
 * order any code nests them: a dump's lock (a dump takes the object lists'
 * under it), then the lists, and last the pools'. An object's counter
 * lock is not among them: it carries its fork generation (access.c). */
static void fork_prepare(void)
{
	rt_busy++;
	rt_capmap_atfork(RT_FORK_PREPARE);
	rt_modules_atfork(RT_FORK_PREPARE);
	rt_objs_atfork(RT_FORK_PREPARE);
	rt_access_atfork(RT_FORK_PREPARE);
}

static void fork_parent(void)
{
	rt_access_atfork(RT_FORK_PARENT);
	rt_objs_atfork(RT_FORK_PARENT);
	rt_modules_atfork(RT_FORK_PARENT);
	rt_capmap_atfork(RT_FORK_PARENT);
	rt_busy--;
}

static void fork_child(void)
{
	rt_access_atfork(RT_FORK_CHILD);
	rt_objs_atfork(RT_FORK_CHILD);
	rt_modules_atfork(RT_FORK_CHILD);
	rt_capmap_atfork(RT_FORK_CHILD);
	tid_cache = 0;
	rt.pid = getpid();
	set_output();
	rt_thread_atfork_child();
	rt_busy--;
	/* The control thread did not survive the fork: the child gets its own
	 * socket, named by its own pid. */
	if (rt.active)
		rt_ctl_start();
}

__attribute__((constructor(101))) static void rt_init(void)
{
	const char *root = getenv("USM_TRACE_ROOT_PID");

	rt_busy++;
	rt.active = env_flag("USM_TRACE_ACTIVE", 0);
	rt.pid = getpid();
	rt.root_pid = root ? (pid_t)atoi(root) : rt.pid;
	if (rt.active && !rt_index_init()) {
		fprintf(stderr, "usm: trace: cannot reserve address space for the object index "
		                "(ulimit -v?): not tracing\n");
		rt.active = 0;
	}
	if (rt.active) {
		rt.enabled = env_flag("USM_TRACE_ENABLED", 1);
		rt.log_access = env_flag("USM_TRACE_LOG_ACCESS", 1);
		rt.print_live = env_flag("USM_TRACE_PRINT_LIVE", 1);
		rt.json = env_flag("USM_TRACE_JSON", 0);
		set_output();
		/* A child of the traced program starts its own clock at zero too:
		 * times are per CAPMAP. */
		rt.t0 = usm_now_ns();
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		rt_ctl_start();
	}
	rt.ready = 1;
	rt_update_flags();
	rt_busy--;
}

__attribute__((destructor(101))) static void rt_fini(void)
{
	long n;
	int err;

	if (!rt.active || RT_LOAD(&rt.finished))
		return;
	rt_busy++;
	RT_STORE(&rt.finished, 1);
	rt_update_flags();
	err = rt_capmap_write(rt.output, rt.json, &n);
	if (err < 0)
		fprintf(stderr, "usm: trace: cannot write %s: %s\n", rt.output, strerror(-err));
	rt_busy--;
}
