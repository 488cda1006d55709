/* mremap's optional fifth argument, for the wrappers that stand in for
 * libc's mremap (the tagger's hook, the trace runtime's interposer). */
#ifndef USM_BASE_MREMAP_H
#define USM_BASE_MREMAP_H

#include <stdarg.h>
#include <sys/mman.h>

/* Sets new_addr to the new address a MREMAP_FIXED call passes, else NULL.
 * A macro: va_start needs the variadic wrapper's own frame. */
#define USM_MREMAP_NEW_ADDR(flags, new_addr)                                                       \
	do {                                                                                       \
		(new_addr) = NULL;                                                                 \
		if ((flags) & MREMAP_FIXED) {                                                      \
			va_list ap_;                                                               \
			va_start(ap_, flags);                                                      \
			(new_addr) = va_arg(ap_, void *);                                          \
			va_end(ap_);                                                               \
		}                                                                                  \
	} while (0)

#endif
