/* Addresses of a traced process to function and file:line, with libdw,
 * from the copy of /proc/PID/maps a CAPMAP carries beside it; kernel
 * addresses from a copy of /proc/kallsyms. */
#ifndef USM_SYMBOLIZE_H
#define USM_SYMBOLIZE_H

#include <stdint.h>

struct usm_symbolizer;

struct usm_symbol {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when there is no line info */
	int line;
	const char *module; /* NULL when the address is in no mapped file */
	uint64_t offset;    /* from the function's start */
};

/* Reads a /proc/PID/maps copy. Returns 0 or a negative errno. */
int usm_symbolizer_open(const char *maps_path, struct usm_symbolizer **out);
/* Reads a copy of /proc/kallsyms (usm ktrace writes FILE.kallsyms, the
 * symbols its sites are in): kernel addresses get a function, the module
 * "vmlinux" or the kernel module's name, and no file:line. Returns 0 or a
 * negative errno (-EPERM: every address is 0, as kptr_restrict shows them). */
int usm_symbolizer_open_kallsyms(const char *path, struct usm_symbolizer **out);
/* Fills sym for addr; strings live as long as the symbolizer. Returns 0,
 * or -ENOENT when addr is in no known module (sym is then all NULL). */
int usm_symbolize(struct usm_symbolizer *s, uint64_t addr, struct usm_symbol *sym);
void usm_symbolizer_close(struct usm_symbolizer *s);

#endif
