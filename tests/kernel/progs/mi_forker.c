/*
 * mi_forker SECONDS: for SECONDS, keep forking short-lived children (up to
 * 4 at a time) while /proc/memory_info is being reset and read: children
 * touch a few pages, some start a thread, some exec this program again
 * (comm and mm change under the scanner), then exit. Reaps every child.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *spin(void *arg)
{
	volatile char *p = arg;
	int i;

	for (i = 0; i < 1000; i++)
		p[(i * 4096) % (16 * 4096)] = (char)i;
	return NULL;
}

static void child(unsigned int r)
{
	size_t n = 1 + r % 64, i;
	char *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t;

	if (p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < n; i++)
		p[i * 4096] = (char)(i & 1);	/* pairs of equal pages */
	if (r % 5 == 0 && n >= 16 &&
	    !pthread_create(&t, NULL, spin, p))
		pthread_join(t, NULL);
	if (r % 7 == 0)
		execl("/proc/self/exe", "mi_forker", "0", (char *)NULL);
	usleep(r % 20000);
	_exit(0);
}

int main(int argc, char **argv)
{
	time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 5);
	unsigned int seed = (unsigned int)getpid(), live = 0;

	while (time(NULL) < end) {
		pid_t pid;

		while (live >= 4) {
			if (wait(NULL) > 0)
				live--;
			else
				live = 0;
		}
		seed = seed * 1103515245u + 12345u;
		pid = fork();
		if (pid == 0)
			child(seed >> 8);
		if (pid > 0)
			live++;
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
