/* The threads of this process, from /proc/self/task. */
#ifndef USM_OS_TASK_H
#define USM_OS_TASK_H

#include <stddef.h>
#include <sys/types.h>

/* The thread ids of this process now, in directory order; *tids is
 * malloc'ed. Returns 0 or a negative errno. */
int usm_os_task_list(pid_t **tids, size_t *count);

#endif
