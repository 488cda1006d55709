/* Transparent huge pages: the system's settings under
 * /sys/kernel/mm/transparent_hugepage and the advice newer than 6.1's
 * uapi headers in glibc. */
#ifndef USM_OS_THP_H
#define USM_OS_THP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

/* Linux 6.1 ABI, absent from glibc 2.36's <sys/mman.h>. */
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* The selected word of a THP setting file ("enabled", "defrag": the one
 * in brackets, such as "madvise") into buf. Returns 0, -ENOENT without
 * THP in the kernel, -EINVAL when no word is selected, or -errno. */
int usm_os_thp_setting(const char *file, char *buf, size_t size);

/* The size of a PMD-mapped huge page (hpage_pmd_size), or 0 if unknown. */
uint64_t usm_os_thp_pmd_size(void);

#endif
