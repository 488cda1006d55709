/* usm's supervisor signal handlers and the passing on of the signals that
 * are not theirs (libsigsegv's rule: the previous handler, or the default
 * action as if usm had never been there). */
#include "supervisor/sigchain.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct usm_sigchain *_Atomic chains[NSIG];

/* The previous action, run as the kernel would have run it. Its sa_mask
 * and SA_RESETHAND / SA_NODEFER flags are not emulated. */
static void pass_on(const struct sigaction *p, int sig, siginfo_t *si, void *uc)
{
	/* a fault happens again when the handler returns; a sent signal or
	 * a trap (after the instruction) does not */
	bool refaults = (sig == SIGSEGV || sig == SIGBUS) && si->si_code > 0;

	if (p->sa_flags & SA_SIGINFO) {
		p->sa_sigaction(sig, si, uc);
	} else if (p->sa_handler == SIG_IGN && !refaults) {
		/* stays ignored */
	} else if (p->sa_handler == SIG_DFL || p->sa_handler == SIG_IGN) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		int saved = errno;

		/* the kernel kills for an ignored fault too */
		sigaction(sig, &dfl, NULL);
		if (!refaults)
			raise(sig); /* blocked here, delivered on return */
		errno = saved;
	} else {
		p->sa_handler(sig);
	}
}

static void dispatch(unsigned int gen, int sig, siginfo_t *si, void *uc)
{
	struct usm_sigchain *c = sig > 0 && sig < NSIG ? atomic_load(&chains[sig]) : NULL;

	if (c && !c->fn(sig, si, uc))
		pass_on(&c->prev[gen], sig, si, uc);
}

#define ENTRY(n) \
	static void entry##n(int sig, siginfo_t *si, void *uc) { dispatch(n, sig, si, uc); }
ENTRY(0) ENTRY(1) ENTRY(2) ENTRY(3) ENTRY(4) ENTRY(5) ENTRY(6) ENTRY(7)
ENTRY(8) ENTRY(9) ENTRY(10) ENTRY(11) ENTRY(12) ENTRY(13) ENTRY(14) ENTRY(15)

static void (*const entries[USM_SIGCHAIN_GENERATIONS])(int, siginfo_t *, void *) = {
	entry0, entry1, entry2, entry3, entry4, entry5, entry6, entry7,
	entry8, entry9, entry10, entry11, entry12, entry13, entry14, entry15,
};

static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
	return a->sa_flags == b->sa_flags && ((a->sa_flags & SA_SIGINFO)
		? a->sa_sigaction == b->sa_sigaction : a->sa_handler == b->sa_handler);
}

int usm_sigchain_install(struct usm_sigchain *c, usm_sigchain_fn fn)
{
	struct sigaction sa = { .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };
	struct sigaction cur;
	unsigned int gen;
	int err = 0;

	if (c->sig <= 0 || c->sig >= NSIG)
		return -EINVAL;
	sigemptyset(&sa.sa_mask);
	pthread_mutex_lock(&lock);
	if (sigaction(c->sig, NULL, &cur) < 0) {
		err = -errno;
		goto out;
	}
	for (gen = 0; gen < USM_SIGCHAIN_GENERATIONS; gen++)
		if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == entries[gen])
			goto out; /* still in front */
	/* The action a generation replaced is back (a harness put it there
	 * again): that generation's entry passes on to it already. */
	for (gen = 0; gen < c->generations; gen++)
		if (same_action(&c->prev[gen], &cur))
			break;
	if (gen == c->generations) {
		if (gen == USM_SIGCHAIN_GENERATIONS) {
			err = -EBUSY;
			goto out;
		}
		/* written before any handler can read it */
		c->prev[gen] = cur;
		c->generations++;
	}
	c->fn = fn;
	atomic_store(&chains[c->sig], c);
	sa.sa_sigaction = entries[gen];
	if (sigaction(c->sig, &sa, NULL) < 0)
		err = -errno;
out:
	pthread_mutex_unlock(&lock);
	return err;
}
