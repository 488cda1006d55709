/* A mapping the kernel refuses, for trace.sh: under usm trace the program
 * must see the kernel's errno (EINVAL for a zero length), as untraced. */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
	void *p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		return 1;
	if (errno == EINVAL)
		printf("EINVAL\n");
	else
		printf("errno %d\n", errno);
	return 0;
}
