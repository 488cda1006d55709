/* A program whose every access is known in advance, for trace.sh: the
 * CAPMAP of 'usm trace' over it (built by usm cc -O0) must hold exactly
 * these objects with exactly these counts. Lines marked SITE:name are the
 * allocation sites the checker expects the report to name. It writes the
 * address of each object to the file named by argv[1]. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NTHREADS 4
#define NLOOP    1000

int g_counts[64];
long g_total;

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	long *q = malloc(8 * sizeof(long)); /* SITE:q */

	for (int i = 0; i < NLOOP; i++)
		g_counts[t] += 1; /* 1000 reads + 1000 writes per thread */
	for (int i = 0; i < 8; i++)
		q[i] = i; /* 8 writes */
	free(q);
	return q;
}

int main(int argc, char **argv)
{
	FILE *out = fopen(argc > 1 ? argv[1] : "/dev/null", "w");
	pthread_t th[NTHREADS];
	void *ret[NTHREADS];
	const int rw = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
	long sum = 0;
	int *a, *m;
	long *b;
	char *c, *c2, *d, *s;
	void *p;

	if (!out)
		return 1;
	a = malloc(100 * sizeof(int)); /* SITE:a */
	for (int i = 0; i < 100; i++)
		a[i] = i;             /* 100 writes */
	b = calloc(50, sizeof(long)); /* SITE:b */
	for (int i = 0; i < 50; i++)
		sum += b[i]; /* 50 reads */
	c = malloc(16);      /* SITE:c */
	for (int i = 0; i < 4; i++)
		c[i] = 'x';       /* 4 writes */
	c2 = realloc(c, 1 << 20); /* SITE:c2 */
	for (int i = 0; i < 10; i++)
		c2[i] = 'y';             /* 10 writes */
	d = malloc(40);                  /* SITE:d */
	memcpy(d, a, 40);                /* 1 read of a, 1 write of d */
	s = malloc(32);                  /* SITE:s */
	strcpy(s, "hello");              /* 1 write of s */
	sum += (long)strlen(s);          /* 1 read of s */
	if (posix_memalign(&p, 64, 256)) /* SITE:p */
		return 1;
	*(char *)p = 1;                        /* 1 write */
	m = mmap(NULL, 8192, rw, anon, -1, 0); /* SITE:m */
	if (m == MAP_FAILED)
		return 1;
	for (int i = 0; i < 4; i++)
		m[i] = i; /* 4 writes */

	for (int t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], &ret[t]);
	for (int t = 0; t < NTHREADS; t++)
		g_total += g_counts[t]; /* 4 reads of g_counts, 4 reads + 4 writes of g_total */

	fprintf(out, "a %p\nb %p\nc %p\nc2 %p\nd %p\ns %p\np %p\nm %p\n", (void *)a, (void *)b,
	        (void *)c, (void *)c2, (void *)d, (void *)s, p, (void *)m);
	for (int t = 0; t < NTHREADS; t++)
		fprintf(out, "q %p\n", ret[t]);
	fprintf(out, "g_counts %p\ng_total %p\n", (void *)g_counts, (void *)&g_total);
	fclose(out);

	munmap(m, 8192);
	free(c2);
	free(d);
	free(s);
	free(p);
	/* a and b stay live: the CAPMAP shows them with free time 0 */
	printf("sum %ld total %ld\n", sum, g_total);
	return 0;
}
