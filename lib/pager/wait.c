/* How the pager thread waits for its next event: it polls for a while
 * before it sleeps. A fault that finds the pager asleep pays for its
 * wake-up, and where the CPU the pager slept on has gone idle (a VM's
 * vCPU halts: here, 2 vCPUs under Firecracker) that wake-up costs more
 * than serving the fault: bench/scan's strided scan took 45 us a page with
 * the pager sleeping, 19 us with it polling, of which 8 and 2 us were the
 * service (docs/performance.md). The program's thread wakes from its fault
 * as soon as the pager has filled the page and faults again a few
 * microseconds later, so a short poll finds most faults of a fault-bound
 * phase.
 *
 * The window adapts as the kernel's haltpoll cpuidle governor adapts its
 * own: when the pager slept after a poll that found nothing but the next
 * event came within spin_max, the window doubles (from SPIN_START_NS); when
 * the event came later, it halves, to nothing below SPIN_START_NS. So a
 * program that computes between faults, or waits on I/O, is not charged a
 * core for the pager's polling. Where the CPUs are wanted by other threads
 * (the pager was preempted while it polled) it stops polling for a while,
 * and a process allowed only one CPU never polls: the program could not run
 * while the pager polled. */
#include "pager/pager_impl.h"

#include <sched.h>
#include <sys/resource.h>

#include "base/clock.h"

#define SPIN_START_NS 10000
/* Events waited for without polling after the pager was preempted while it
 * polled: other threads want the CPUs, and a poll would take their time
 * (the program's own among them). */
#define SPIN_OFF_EVENTS 1024

void wait_init(struct usm_pager *p)
{
	cpu_set_t cpus;

	p->spin_max_ns = (uint64_t)p->cfg.spin_max_us * 1000;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2)
		p->spin_max_ns = 0;
	p->spin_window_ns = p->spin_max_ns < SPIN_START_NS ? p->spin_max_ns : SPIN_START_NS;
}

static void adapt(struct usm_pager *p, uint64_t waited_ns)
{
	if (waited_ns <= p->spin_max_ns) {
		uint64_t w = p->spin_window_ns * 2;
		if (w < SPIN_START_NS)
			w = SPIN_START_NS;
		p->spin_window_ns = w < p->spin_max_ns ? w : p->spin_max_ns;
	} else {
		p->spin_window_ns /= 2;
		if (p->spin_window_ns < SPIN_START_NS)
			p->spin_window_ns = 0;
	}
}

/* The times this thread was preempted: the CPU it polls on was wanted. */
static long preempted(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : 0;
}

/* Polls up to the window; returns poll's result, 0 when nothing came. */
static int poll_window(struct usm_pager *p, struct pollfd *fds, nfds_t n, uint64_t t0)
{
	long before = preempted();
	int rc;

	do
		rc = poll(fds, n, 0);
	while (rc == 0 && usm_now_ns() - t0 < p->spin_window_ns);
	if (preempted() != before)
		p->spin_off = SPIN_OFF_EVENTS;
	return rc;
}

int wait_event(struct usm_pager *p, struct pollfd *fds, nfds_t n, bool *polled)
{
	uint64_t t0 = p->spin_max_ns ? usm_now_ns() : 0;
	int rc;

	*polled = false;
	if (p->spin_off)
		p->spin_off--;
	else if (p->spin_window_ns) {
		rc = poll_window(p, fds, n, t0);
		if (rc != 0) {
			*polled = rc > 0;
			return rc;
		}
	}
	rc = poll(fds, n, -1);
	if (p->spin_max_ns && rc > 0)
		adapt(p, usm_now_ns() - t0);
	return rc;
}
