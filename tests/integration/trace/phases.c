/* A program driven line by line from stdin, for the control tests of
 * trace.sh: "alloc N" mallocs an object of N bytes, "touch N K" writes K
 * bytes of it, "free N" frees it, "fork N" has a child allocate N bytes,
 * write 5 of them and exit, "quit" ends. Each command is answered "done"
 * (for fork: "child PID") once carried out, so the test knows where the
 * program is when it sends a control command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBJS 16

static char *objs[NOBJS];
static size_t sizes[NOBJS];

static int slot(size_t n)
{
	for (int i = 0; i < NOBJS; i++)
		if (objs[i] && sizes[i] == n)
			return i;
	return -1;
}

int main(void)
{
	char line[128];
	size_t n, k;

	while (fgets(line, sizeof(line), stdin)) {
		int i;

		if (sscanf(line, "alloc %zu", &n) == 1) {
			for (i = 0; i < NOBJS && objs[i]; i++)
				;
			if (i == NOBJS)
				return 1;
			objs[i] = malloc(n); /* SITE:phase */
			sizes[i] = n;
		} else if (sscanf(line, "touch %zu %zu", &n, &k) == 2 && (i = slot(n)) >= 0) {
			for (size_t j = 0; j < k; j++)
				objs[i][j % n] = 1;
		} else if (sscanf(line, "free %zu", &n) == 1 && (i = slot(n)) >= 0) {
			free(objs[i]);
			objs[i] = NULL;
		} else if (sscanf(line, "fork %zu", &n) == 1) {
			pid_t pid = fork();

			if (pid == 0) {
				char *c = malloc(n); /* SITE:child */

				for (int j = 0; j < 5; j++)
					c[j] = 2;
				exit(c[0] == 2 ? 0 : 1);
			}
			waitpid(pid, NULL, 0);
			printf("child %d\n", (int)pid);
			fflush(stdout);
			continue;
		} else if (!strcmp(line, "quit\n")) {
			break;
		} else if (strcmp(line, "nop\n")) {
			return 2;
		}
		printf("done\n");
		fflush(stdout);
	}
	return 0;
}
