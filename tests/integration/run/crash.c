/* Ends by SIGSEGV after touching some memory: usm run must report the
 * signal as a shell does and exit 128+11. */
#include "common.h"

int main(void)
{
	char *p = malloc(8 << 20);
	fill(p, 8 << 20, 1);
	printf("about to crash\n");
	fflush(stdout);
	volatile int *null = (volatile int *)(uintptr_t)atoi("16");
	*null = 1;
	return 0;
}
