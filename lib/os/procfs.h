/* Per-process files of /proc: the process list, comm, VmSize, and reading
 * another process's memory through /proc/PID/mem. */
#ifndef USM_OS_PROCFS_H
#define USM_OS_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A task's comm is at most 15 bytes (TASK_COMM_LEN - 1). */
#define USM_OS_COMM_MAX 15

/* The numeric entries of /proc (thread-group leaders, not threads), in
 * ascending order. *pids is malloc'ed. Returns 0 or a negative errno. */
int usm_os_proc_list(pid_t **pids, size_t *count);

/* Opens /proc/PID as a directory. Files opened through it afterwards
 * belong to that very process even if the pid is reused: once it is gone
 * they fail with ENOENT or ESRCH. Returns the fd or a negative errno. */
int usm_os_proc_open(pid_t pid);

/* Opens a file of an open /proc/PID directory read-only. Returns the fd or
 * a negative errno. */
int usm_os_proc_open_file(int dirfd, const char *file);

/* Reads a file of an open /proc/PID directory whole into buf, at most
 * size - 1 bytes, with raw read(2) calls (no stdio, no malloc: the tagger
 * reads its maps in a fork child). Returns the length or a negative errno;
 * buf is NUL-terminated. */
ssize_t usm_os_proc_read_file(int dirfd, const char *file, char *buf, size_t size);

/* The whole of /proc/PID/maps (pid 0: this process) in a malloc'ed,
 * NUL-terminated *text: one snapshot, so that a walk over it is consistent
 * while the mappings change. Returns 0 or a negative errno. */
int usm_os_proc_read_maps(pid_t pid, char **text);

/* The process's comm, without the newline the file ends with, cut to
 * USM_OS_COMM_MAX bytes (what kernel threads show can be longer). */
int usm_os_proc_read_comm(int dirfd, char name[USM_OS_COMM_MAX + 1]);

/* VmSize of /proc/PID/status, in kB. -ENODATA when the process has no
 * memory map (kernel threads, zombies). */
int usm_os_proc_read_vmsize(int dirfd, uint64_t *kb);

/* Reads `len` bytes of the process's memory at `addr` from its open
 * /proc/PID/mem. Returns the number of bytes read, fewer than `len` when
 * a page on the way cannot be read (no page behind it, such as secretmem
 * or a special mapping), -EIO when the first one cannot, -ESRCH once the
 * process has exited (the file then reads as empty). Faults in any page
 * that is not present: read only pages pagemap shows present. */
ssize_t usm_os_proc_read_mem(int memfd, uint64_t addr, void *buf, size_t len);

/* The threads of process pid (the entries of /proc/PID/task), ascending.
 * *tids is malloc'ed. Threads may come and go while this runs. Returns 0
 * or a negative errno (-ENOENT: no such process). */
int usm_os_proc_list_tasks(pid_t pid, pid_t **tids, size_t *count);

/* Calls fn once for every thread of process pid, for tracers whose events
 * the threads started later inherit: a thread started between the listing
 * and fn's work is caught by a second listing. fn returning -ESRCH means
 * that thread ended (it is skipped); another error stops the walk and is
 * returned. Returns -ESRCH when there is no such process or fn took no
 * thread. */
int usm_os_proc_each_task(pid_t pid, int (*fn)(void *ctx, pid_t tid), void *ctx);

#endif
