/* Raw system calls return -errno in [-4095, -1] (the kernel's
 * IS_ERR_VALUE): the one test for it, header only. */
#ifndef USM_BASE_SYSCALL_H
#define USM_BASE_SYSCALL_H

#include <stdbool.h>

#define USM_MAX_ERRNO 4095

static inline bool usm_syscall_failed(long r)
{
	return r < 0 && r >= -USM_MAX_ERRNO;
}

#endif
