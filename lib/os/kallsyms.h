/* Kernel addresses to function names, from /proc/kallsyms or a copy of
 * part of it in the same format ("ffffffff81234567 T name [module]"). */
#ifndef USM_OS_KALLSYMS_H
#define USM_OS_KALLSYMS_H

#include <stdint.h>
#include <stdio.h>

struct usm_os_ksym {
	uint64_t addr;
	const char *name;
	const char *module; /* NULL: the kernel image */
	char type;          /* kallsyms' letter */
};

/* Text symbols sorted by address, for binary search. */
struct usm_os_kallsyms {
	struct usm_os_ksym *syms;
	size_t n;
	char *strings; /* every name and module, one block */
};

/* Reads the text symbols of path. Returns 0, -EPERM when every address
 * reads 0 (kptr_restrict hides them from this process), or a negative errno. */
int usm_os_kallsyms_load(const char *path, struct usm_os_kallsyms *k);
void usm_os_kallsyms_free(struct usm_os_kallsyms *k);

/* The index of the symbol addr is in (the last one at or below it, when
 * the next one is above), or -1. */
long usm_os_kallsyms_find(const struct usm_os_kallsyms *k, uint64_t addr);

/* Writes symbol i and the one after it (its end) in kallsyms' format, so
 * that a copy of only the symbols a recording named still bounds each one. */
int usm_os_kallsyms_write(const struct usm_os_kallsyms *k, size_t i, FILE *out);

#endif
