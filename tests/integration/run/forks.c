/* Children see the parent's data, evicted pages included: a forked child
 * checks it, system() and popen() run commands, and the parent checks its
 * data again afterwards. */
#include "common.h"

#include <sys/wait.h>
#include <unistd.h>

#define SIZE (64 << 20)

int main(void)
{
	char *data = malloc(SIZE), line[128] = "";
	int status;

	fill(data, SIZE, 7);
	push_out(96 << 20);

	pid_t pid = fork();
	if (pid == 0)
		_exit(check(data, SIZE, 7) == -1 ? 0 : 1);
	waitpid(pid, &status, 0);
	expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "forked child read the parent's data");

	pid = fork();
	if (pid == 0) { /* the child writes its own copy: the parent's stays */
		fill(data, SIZE, 8);
		push_out(96 << 20);
		_exit(check(data, SIZE, 8) == -1 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child's own writes survived its evictions");

	expect(system("exit 3") == 3 << 8, "system() ran a command");
	FILE *f = popen("echo from popen", "r");
	expect(f && fgets(line, sizeof(line), f) && !strcmp(line, "from popen\n"), "popen() read its output");
	pclose(f);
	expect(check(data, SIZE, 7) == -1, "parent's data intact after its children");
	return 0;
}
