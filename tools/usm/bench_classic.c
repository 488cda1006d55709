/* The classic mprotect + SIGSEGV way, by hand: what usm's rows are measured
 * against. Kept as plain as a program of its own would be (one range, one
 * thread), so that the baseline is not slowed by usm's generality. */
#include "bench_classic.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096UL

static uintptr_t range_start, range_end;
static uint64_t *bits;  /* one per page, when tracking */
static uint32_t *found; /* a collect's written pages */
static size_t npages;
static volatile sig_atomic_t overflow;
static _Atomic uint64_t unprotects;
static struct sigaction previous;
static bool installed;

static void pass_on(int sig, siginfo_t *si, void *uc)
{
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, si, uc);
	} else if (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN) {
		/* the fault is taken again and kills, as without us */
		signal(sig, SIG_DFL);
	} else {
		previous.sa_handler(sig);
	}
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr & ~(PAGE - 1);
	int saved = errno;

	if (si->si_code != SEGV_ACCERR || a < range_start || a >= range_end) {
		pass_on(sig, si, uc);
		return;
	}
	if (mprotect((void *)a, PAGE, PROT_READ | PROT_WRITE) < 0) {
		/* vm.max_map_count: what a classic program can still do is
		 * give up tracking, the whole range writable again */
		overflow = 1;
		mprotect((void *)range_start, range_end - range_start, PROT_READ | PROT_WRITE);
	} else {
		atomic_fetch_add_explicit(&unprotects, 1, memory_order_relaxed);
		if (bits) {
			size_t i = (a - range_start) / PAGE;

			bits[i / 64] |= 1ULL << (i % 64);
		}
	}
	errno = saved;
}

int classic_begin(void *start, size_t len, bool track)
{
	struct sigaction sa;

	range_start = (uintptr_t)start;
	range_end = range_start + len;
	npages = len / PAGE;
	overflow = 0;
	atomic_store(&unprotects, 0);
	bits = NULL;
	found = NULL;
	if (track) {
		bits = calloc((npages + 63) / 64, sizeof(*bits));
		found = malloc(npages * sizeof(*found));
		if (!bits || !found) {
			free(bits);
			free(found);
			bits = NULL;
			found = NULL;
			return -ENOMEM;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &previous) < 0)
		return -errno;
	installed = true;
	return 0;
}

void classic_end(void)
{
	if (installed)
		sigaction(SIGSEGV, &previous, NULL);
	installed = false;
	free(bits);
	free(found);
	bits = NULL;
	found = NULL;
	range_start = range_end = 0;
}

int classic_protect(void *addr, size_t len)
{
	return mprotect(addr, len, PROT_READ) < 0 ? -errno : 0;
}

int classic_unprotect(void *addr, size_t len)
{
	return mprotect(addr, len, PROT_READ | PROT_WRITE) < 0 ? -errno : 0;
}

long classic_collect(void)
{
	size_t n = 0;

	if (mprotect((void *)range_start, range_end - range_start, PROT_READ) < 0)
		return -errno;
	if (overflow) {
		overflow = 0;
		memset(bits, 0, (npages + 63) / 64 * sizeof(*bits));
		return -ENOMEM;
	}
	for (size_t w = 0; w < (npages + 63) / 64; w++) {
		uint64_t b = bits[w];

		bits[w] = 0;
		while (b) {
			found[n++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
			b &= b - 1;
		}
	}
	return (long)n;
}

uint64_t classic_unprotects(void)
{
	return atomic_load(&unprotects);
}

bool classic_overflowed(void)
{
	return overflow;
}
