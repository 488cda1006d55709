/* The tagger's versions of libc's mapping calls. They replace libc's own
 * entry points (patch.c), so glibc's internal calls from malloc, free,
 * realloc and pthread_create arrive here too. New private anonymous
 * mappings are handed to the pager; calls that drop or move managed memory
 * run through it, so that they never race with an eviction. errno is set
 * only here, after the pager has answered. */
#include "tagger.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pager/pager_impl.h"

#include "base/mremap.h"
#include "base/syscall.h"
#include "os/vm.h"

/* glibc's record of the program break, which its brk wrapper keeps and
 * sbrk reads. */
extern void *__curbrk;

/* Private anonymous memory of base pages (the fd of an anonymous mapping
 * is ignored by the kernel, and some programs pass 0). */
static bool is_managed_kind(int flags)
{
	return (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE && !(flags & MAP_HUGETLB);
}

static void *map_result(long r)
{
	if (usm_syscall_failed(r)) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

static int int_result(long r)
{
	if (usm_syscall_failed(r)) {
		errno = (int)-r;
		return -1;
	}
	return 0;
}

void *tagger_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	long r = usm_os_mmap(addr, len, prot, flags, fd, off);

	if (usm_syscall_failed(r))
		return map_result(r);
	if (tagger_pager && is_managed_kind(flags))
		usm_pager_add(tagger_pager, (void *)r, len); /* unmanaged if refused */
	else if (tagger_pager && (flags & MAP_FIXED))
		usm_pager_forget(tagger_pager, (void *)r, len); /* replaced managed memory? */
	return (void *)r;
}

int tagger_munmap(void *addr, size_t len)
{
	if (!tagger_pager)
		return int_result(usm_os_munmap(addr, len));
	return int_result(usm_pager_munmap(tagger_pager, addr, len));
}

void *tagger_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr;
	long r;

	USM_MREMAP_NEW_ADDR(flags, new_addr);
	if (!tagger_pager)
		return map_result(usm_os_mremap(old, old_len, new_len, flags, new_addr));
	usm_pager_mremap_begin(tagger_pager);
	r = usm_os_mremap(old, old_len, new_len, flags, new_addr);
	usm_pager_mremap_end(tagger_pager, old, old_len, new_len, r);
	return map_result(r);
}

int tagger_madvise(void *addr, size_t len, int advice)
{
	if (!tagger_pager)
		return int_result(usm_os_madvise(addr, len, advice));
	return int_result(usm_pager_madvise(tagger_pager, addr, len, advice));
}

int tagger_brk(void *addr)
{
	long now = tagger_pager ? usm_pager_brk(tagger_pager, addr) : usm_os_brk(addr);

	__curbrk = (void *)now;
	if ((uintptr_t)now < (uintptr_t)addr) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* libc's _exit, which exit() ends in after every handler ran: no code of
 * the program runs after it, so the pages the process left in a store that
 * outlives it (memcached) can be deleted from the pager's own record of
 * them; usm run needs to purge only what a process that never got here
 * left (tagger_store_ended). A vfork child (posix_spawn's) shares the
 * parent's memory and pager: only the process that started the pager ends
 * its store. */
void tagger_exit_now(int status)
{
	if (tagger_pager && getpid() == tagger_pager_pid && usm_pager_end_store(tagger_pager) == 0)
		tagger_store_ended();
	for (;;)
		syscall(SYS_exit_group, status);
}
