/* Threads that share one access site on one object, for trace_inline.sh:
 * NTHREADS threads run the same loop over the same heap object, each on
 * its own element (no data race), so the object's counters at each site
 * hold exactly NLOOP reads and writes per thread: the plain add of a
 * thread's own counter loses nothing. The atomic add on a shared element
 * (a read-modify-write, counted as one write) proves the same for an
 * atomic at one site. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 4
#define NLOOP    100000

static long *shared; /* SITE:shared */

static void *worker(void *arg)
{
	intptr_t t = (intptr_t)arg;

	for (int i = 0; i < NLOOP; i++)
		shared[8 * t] += 1; /* ACCESS:add, NLOOP reads and writes per thread */
	for (int i = 0; i < NLOOP; i++)
		__atomic_fetch_add(&shared[8 * NTHREADS], 1, __ATOMIC_RELAXED); /* ACCESS:atomic */
	return NULL;
}

int main(void)
{
	pthread_t th[NTHREADS];
	long sum = 0;

	shared = calloc(8 * NTHREADS + 1, sizeof(long)); /* SITE:shared */
	if (!shared)
		return 1;
	for (intptr_t t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t <= NTHREADS; t++)
		sum += shared[8 * t];
	printf("%ld\n", sum);
	free(shared);
	return 0;
}
