/* Growing a malloc'ed array by doubling: the one copy of that loop for the
 * tools' readers and tracers (never the pager's code, which uses rawmem). */
#ifndef USM_BASE_GROW_H
#define USM_BASE_GROW_H

#include <errno.h>
#include <stdlib.h>

/* Makes room in *arr (of *cap items of item bytes) for item n: doubles the
 * capacity, from first, when n has reached it. 0, or -ENOMEM with *arr as
 * it was. */
static inline int usm_grow(void **arr, size_t *cap, size_t n, size_t item, size_t first)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : first;
	p = realloc(*arr, ncap * item);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

#endif
