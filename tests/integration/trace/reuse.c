/* An object freed and its range given to a new object between two
 * accesses from one site, for trace_inline.sh: touch()'s store is one
 * site; the first object gets 1 write there, the second (same address,
 * glibc hands the chunk back) 2. The trace pass's slot for that site
 * still holds the first object's range after its free: only the object's
 * generation tells the second object apart. Prints whether the address
 * was reused (the test needs it to be). */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static void touch(int *p, int v)
{
	p[1] = v; /* ACCESS:touch */
}

int main(void)
{
	int *a = malloc(64), *b;

	if (!a)
		return 1;
	touch(a, 1);
	free(a);
	b = malloc(64);
	if (!b)
		return 1;
	touch(b, 2);
	touch(b, 3);
	printf("%s\n", a == b ? "reused" : "not reused");
	free(b);
	return 0;
}
