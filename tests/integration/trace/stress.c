/* Many threads allocating, writing and freeing at once while the test
 * dumps the CAPMAP from outside and one thread forks, for trace.sh: the
 * runtime must neither deadlock nor lose a count. Prints the totals the
 * CAPMAP must show: objects and writes made at the SITE line. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 4
#define NITER    20000

static long writes_done[NTHREADS];

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint32_t seed = 12345u + (uint32_t)t;
	char *keep[16] = {0};

	for (int i = 0; i < NITER; i++) {
		size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 200;
		char *p = malloc(n); /* SITE:stress */

		for (size_t k = 0; k < n; k += 7)
			p[k] = (char)k; /* one write per 7 bytes */
		writes_done[t] += (long)((n + 6) / 7);
		/* keep a few alive for a while, so frees come out of order */
		free(keep[i % 16]);
		keep[i % 16] = p;
		if (t == 0 && i == NITER / 2) {
			pid_t pid = fork();

			if (pid == 0) {
				char *c = malloc(32);

				c[0] = 1;
				exit(c[0] == 1 ? 0 : 1);
			}
			waitpid(pid, NULL, 0);
		}
	}
	for (int i = 0; i < 16; i++)
		free(keep[i]);
	return NULL;
}

int main(void)
{
	pthread_t th[NTHREADS];
	long writes = 0;

	for (int t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		writes += writes_done[t];
	}
	printf("objects %d writes %ld\n", NTHREADS * NITER, writes);
	return 0;
}
