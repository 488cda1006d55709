/* One thread allocates, another writes and frees, for trace.sh: objects
 * cross threads the way a work queue passes them. The consumer frees what
 * it never allocated (the runtime's memory then moves between per-thread
 * caches) and counts on objects another thread made. Prints the two
 * thread ids and the totals the CAPMAP must show. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOBJS  50000
#define NSLOTS 64
#define SIZE   72 /* bytes: a size nothing else here allocates */

static long *ring[NSLOTS];
static int head, tail;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static pid_t producer_tid, consumer_tid;

static void *producer(void *arg)
{
	(void)arg;
	producer_tid = gettid();
	for (int i = 0; i < NOBJS; i++) {
		long *p = malloc(SIZE);

		if (!p)
			abort();
		pthread_mutex_lock(&lock);
		while (head - tail == NSLOTS)
			pthread_cond_wait(&changed, &lock);
		ring[head++ % NSLOTS] = p;
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	consumer_tid = gettid();
	for (int i = 0; i < NOBJS; i++) {
		long *p;

		pthread_mutex_lock(&lock);
		while (head == tail)
			pthread_cond_wait(&changed, &lock);
		p = ring[tail++ % NSLOTS];
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&lock);
		for (int k = 0; k < SIZE / (int)sizeof(long); k++)
			p[k] = k; /* 9 writes per object */
		free(p);
	}
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	if (pthread_create(&a, NULL, producer, NULL) || pthread_create(&b, NULL, consumer, NULL))
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("%d %d %d %d\n", (int)producer_tid, (int)consumer_tid, NOBJS,
	       NOBJS * SIZE / (int)sizeof(long));
	return 0;
}
