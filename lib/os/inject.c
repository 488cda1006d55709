#include "os/inject.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "os/procfs.h"
#include "os/smaps.h"

#if defined(__x86_64__)
#include <sys/user.h>

/* The address of a `syscall` instruction (0f 05) in the target's vDSO:
 * code the target maps anyway, so nothing of its memory is changed. */
static int find_syscall_insn(pid_t pid, uint64_t *addr)
{
	struct usm_os_maps it;
	struct usm_os_mapping m;
	char *maps;
	int dir, mem, err = usm_os_proc_read_maps(pid, &maps);

	if (err)
		return err;
	err = -ENOEXEC; /* until a syscall instruction is found */
	dir = usm_os_proc_open(pid);
	mem = dir < 0 ? dir : usm_os_proc_open_file(dir, "mem");
	if (dir >= 0)
		close(dir);
	if (mem < 0) {
		free(maps);
		return mem;
	}
	usm_os_maps_init(&it, maps);
	while (err == -ENOEXEC && usm_os_maps_next(&it, &m) > 0) {
		unsigned char code[2 * 4096];
		ssize_t got;

		if (m.name_len != 6 || memcmp(m.name, "[vdso]", 6))
			continue;
		got = usm_os_proc_read_mem(mem, m.start, code,
		                           m.end - m.start < sizeof(code) ? m.end - m.start
		                                                          : sizeof(code));
		for (ssize_t i = 0; i + 1 < got; i++)
			if (code[i] == 0x0f && code[i + 1] == 0x05) {
				*addr = m.start + (uint64_t)i;
				err = 0;
				break;
			}
	}
	close(mem);
	free(maps);
	return err;
}

/* Waits for tid's next stop; a signal that stops it on the way is kept in
 * *pending for the detach to deliver. Returns 0 when the stop is `want`
 * (an event stop for 0, else that signal), or a negative errno. */
static int wait_stop(pid_t tid, int want, int *pending)
{
	for (;;) {
		int status;

		if (waitpid(tid, &status, __WALL) < 0)
			return -errno;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (!WIFSTOPPED(status))
			continue;
		if (!want && status >> 16 == PTRACE_EVENT_STOP)
			return 0;
		if (want && WSTOPSIG(status) == want && status >> 16 == 0)
			return 0;
		if (status >> 16 == 0)
			*pending = WSTOPSIG(status); /* a signal of its own: delivered later */
		/* a stop that is not ours: let it go on towards ours */
		if (ptrace(want ? PTRACE_SINGLESTEP : PTRACE_CONT, tid, 0, 0) < 0)
			return -errno;
	}
}

/* Runs syscall nr(a0, a1) in the stopped tid from the instruction at insn;
 * its registers are put back afterwards by the caller. */
static int run_syscall(pid_t tid, const struct user_regs_struct *saved, uint64_t insn, long nr,
                       long a0, long a1, long *ret, int *pending)
{
	struct user_regs_struct regs = *saved;
	int err;

	regs.rip = insn;
	regs.rax = (unsigned long long)nr;
	regs.rdi = (unsigned long long)a0;
	regs.rsi = (unsigned long long)a1;
	/* no system call of its own is in progress for the kernel: it must
	 * not restart one over ours */
	regs.orig_rax = (unsigned long long)-1;
	if (ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0 || ptrace(PTRACE_SINGLESTEP, tid, 0, 0) < 0)
		return -errno;
	err = wait_stop(tid, SIGTRAP, pending);
	if (err)
		return err;
	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
		return -errno;
	*ret = (long)regs.rax;
	return 0;
}

static int pidfd_getfd(pid_t pid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), got, err;

	if (pidfd < 0)
		return -errno;
	got = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	err = got < 0 ? -errno : got;
	close(pidfd);
	return err;
}

int usm_os_inject_userfaultfd(pid_t pid)
{
	struct user_regs_struct saved;
	int pending = 0, err, fd = -1;
	uint64_t insn;
	long ret = -1;

	err = find_syscall_insn(pid, &insn);
	if (err)
		return err == -EACCES ? -EPERM : err;
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		return errno == EPERM || errno == EACCES ? -EPERM : -errno;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
		err = -errno;
		goto detach;
	}
	err = wait_stop(pid, 0, &pending);
	if (err)
		goto detach;
	if (ptrace(PTRACE_GETREGS, pid, 0, &saved) < 0) {
		err = -errno;
		goto detach;
	}
	/* Full descriptor first; a user without the privilege for faults in
	 * the kernel gets a user-mode-only one (async write-protect never
	 * delivers a fault, so it makes no difference to it). */
	err = run_syscall(pid, &saved, insn, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, &ret,
	                  &pending);
	if (!err && ret == -EPERM)
		err = run_syscall(pid, &saved, insn, SYS_userfaultfd,
		                  O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, &ret, &pending);
	if (!err && ret < 0)
		err = (int)ret;
	if (!err) {
		fd = pidfd_getfd(pid, (int)ret);
		err = fd < 0 ? fd : 0;
		/* the target must not keep it: close its copy in any case */
		long closed;
		run_syscall(pid, &saved, insn, SYS_close, ret, 0, &closed, &pending);
	}
	if (ptrace(PTRACE_SETREGS, pid, 0, &saved) < 0 && !err)
		err = -errno;
detach:
	if (ptrace(PTRACE_DETACH, pid, 0, (void *)(intptr_t)pending) < 0 && !err)
		err = -errno;
	if (err && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return err ? err : fd;
}

#else

int usm_os_inject_userfaultfd(pid_t pid)
{
	(void)pid;
	return -ENOSYS;
}

#endif
