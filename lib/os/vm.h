/* Raw memory-mapping system calls. The pager and the tagger issue these
 * through syscall(2), never through libc's wrappers, which the tagger
 * replaces with its hooks. Each returns the kernel's result: a value, or a
 * negative errno. */
#ifndef USM_OS_VM_H
#define USM_OS_VM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

long usm_os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
long usm_os_munmap(void *addr, size_t len);
long usm_os_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
long usm_os_madvise(void *addr, size_t len, int advice);
long usm_os_brk(void *addr);
long usm_os_mprotect(void *addr, size_t len, int prot);

/* Opens this process's /proc/self/mem read-only, for usm_os_read_self.
 * Returns the fd or a negative errno. */
int usm_os_self_mem_open(void);

/* Reads len bytes at addr of this process through /proc/self/mem, which
 * sees pages whatever their protection and never runs a userfaultfd fault
 * for present pages. fd is an open /proc/self/mem. Returns 0 or -errno. */
int usm_os_read_self(int fd, uint64_t addr, void *buf, size_t len);

#endif
