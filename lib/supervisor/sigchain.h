/* One handler per signal for usm's supervisor mechanisms, in front of the
 * program's: faults that are not usm's go on to the handler before it. */
#ifndef USM_SUPERVISOR_SIGCHAIN_H
#define USM_SUPERVISOR_SIGCHAIN_H

#include <signal.h>
#include <stdbool.h>

/* Returns true when it handled the signal, false to pass it on. Runs in
 * a signal handler: async-signal-safe only. */
typedef bool (*usm_sigchain_fn)(int sig, siginfo_t *si, void *uc);

#define USM_SIGCHAIN_GENERATIONS 16

struct usm_sigchain {
	int sig;
	usm_sigchain_fn fn;
	/* Each time usm installs itself it does so with another entry
	 * function, whose "previous action" is the one it replaced then: a
	 * program handler that kept an older entry and passes signals to it
	 * reaches the action before that one, never itself again. */
	struct sigaction prev[USM_SIGCHAIN_GENERATIONS];
	unsigned int generations;
};

/* Makes usm's handler the action for c->sig (SA_SIGINFO | SA_ONSTACK |
 * SA_RESTART), keeping what it replaces to pass on the signals fn does not
 * claim: an SA_SIGINFO or plain handler is called; for SIG_DFL or SIG_IGN
 * the default action is restored and the fault happens again on return (a
 * sent signal or a trap is raised again), which kills as before.
 *
 * Called each time a mechanism starts to rely on the signal: when the
 * program (or a test harness) restored an older handler over usm's, it
 * installs itself again. usm's handler stays for the life of the process.
 * Returns 0, -EBUSY when usm was replaced by as many different handlers
 * as it has generations, or another negative errno. */
int usm_sigchain_install(struct usm_sigchain *c, usm_sigchain_fn fn);

#endif
