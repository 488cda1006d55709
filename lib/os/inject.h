/* Running a system call inside another process: the thread is stopped for
 * a moment with ptrace, made to execute one `syscall` instruction of its
 * own vDSO, and put back exactly as it was (an interrupted system call of
 * its own is restarted as after any signal). With pidfd_getfd this hands
 * usm descriptors that only the target can create, such as a userfaultfd
 * of the target's address space. x86-64 only: elsewhere -ENOSYS. */
#ifndef USM_OS_INJECT_H
#define USM_OS_INJECT_H

#include <sys/types.h>

/* A userfaultfd created by process pid for its own memory, as a
 * descriptor of the caller (close-on-exec, non-blocking; the target keeps
 * no copy). The caller then does UFFDIO_API and registers ranges of the
 * target's memory with it. Needs ptrace access to pid (PTRACE_MODE_ATTACH:
 * the same user without yama's restrictions, or CAP_SYS_PTRACE). Returns
 * the fd, or -ESRCH (no such process), -EPERM (no ptrace access), -ENOSYS
 * (not x86-64, no pidfd_getfd), -ENOEXEC (no syscall instruction found in
 * its vDSO), or the errno the target's userfaultfd() failed with. */
int usm_os_inject_userfaultfd(pid_t pid);

#endif
