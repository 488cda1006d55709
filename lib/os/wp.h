/* Kernel write protection for usm's write-protect callbacks: mprotect(2)
 * and a userfaultfd registration for write-protect faults alone. */
#ifndef USM_OS_WP_H
#define USM_OS_WP_H

#include <stddef.h>
#include <stdint.h>

/* mprotect(2) through syscall(2). Returns 0 or a negative errno (-ENOMEM
 * also when the split would pass vm.max_map_count). Async-signal-safe. */
int usm_os_mprotect(void *addr, size_t len, int prot);

/* Registers [start, start+len) with UFFDIO_REGISTER_MODE_WP only: missing
 * pages fill as usual, only writes to write-protected pages fault. ioctls
 * gets the ioctls the range allows (NULL: not wanted). Returns 0 or a
 * negative errno (-EINVAL where the mapping or kernel cannot write-protect,
 * -EBUSY where another userfaultfd holds the range). */
int usm_os_uffd_register_wp(int fd, uint64_t start, uint64_t len, uint64_t *ioctls);

#endif
