/* A shared library built by usm cc and loaded by a host that was not: a
 * C extension or plugin. plugin_sum(n) allocates n ints, writes each once
 * and reads each once (n stores, n loads on one object), and frees them. */
#include <stdlib.h>

int plugin_sum(int n);

int plugin_sum(int n)
{
	int *a = malloc((size_t)n * sizeof(*a));
	int s = 0;

	if (!a)
		return -1;
	for (int i = 0; i < n; i++)
		a[i] = i;
	for (int i = 0; i < n; i++)
		s += a[i];
	free(a);
	return s;
}
