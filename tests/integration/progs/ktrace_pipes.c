/* A known kernel allocation pattern for usm ktrace's test: N pipes, each
 * made and closed at once, so that the kernel allocates and frees one
 * pipe_inode_info (and its buffer array) per pipe in alloc_pipe_info and
 * free_pipe_info. With "wait" it says "ready" on stderr and makes its pipes
 * only once a byte arrives on stdin: a tracer attaches with -p first. With
 * "rate" it prints how many pipes a second its loop made (bench/ktrace.sh).
 *
 * usage: ktrace_pipes N [wait|rate] */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : -1;
	bool wait = argc == 3 && !strcmp(argv[2], "wait"), rate = argc == 3 && !strcmp(argv[2], "rate");
	struct timespec t0, t1;
	char c;

	if (n < 0 || argc > 3 || (argc == 3 && !wait && !rate)) {
		fprintf(stderr, "usage: ktrace_pipes N [wait|rate]\n");
		return 2;
	}
	if (wait) {
		fprintf(stderr, "ready\n");
		if (read(0, &c, 1) != 1)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int fd[2];

		if (pipe(fd) < 0) {
			perror("pipe");
			return 1;
		}
		close(fd[0]);
		close(fd[1]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rate)
		fprintf(stderr, "%.0f pipes/s\n",
			(double)n / ((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
	return 0;
}
