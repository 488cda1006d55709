#include "os/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static long raw(long r)
{
	return r < 0 ? -errno : r;
}

long usm_os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return raw(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}

long usm_os_munmap(void *addr, size_t len)
{
	return raw(syscall(SYS_munmap, addr, len));
}

long usm_os_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return raw(syscall(SYS_mremap, old, old_len, new_len, flags, new_addr));
}

long usm_os_madvise(void *addr, size_t len, int advice)
{
	return raw(syscall(SYS_madvise, addr, len, advice));
}

long usm_os_brk(void *addr)
{
	/* brk(2) returns the new (or unchanged) break, never an errno */
	return syscall(SYS_brk, addr);
}

long usm_os_mprotect(void *addr, size_t len, int prot)
{
	/* async-signal-safe: the supervisor's SIGSEGV handlers call it */
	return raw(syscall(SYS_mprotect, addr, len, prot));
}

int usm_os_self_mem_open(void)
{
	int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int usm_os_read_self(int fd, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(addr + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}
