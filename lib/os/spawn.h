/* A child started and held before its exec, so that a tracer can attach
 * events to its pid before the program runs its first instruction, and
 * learn whether the exec itself failed. */
#ifndef USM_OS_SPAWN_H
#define USM_OS_SPAWN_H

#include <sys/types.h>

struct usm_os_spawn {
	pid_t pid;
	int go_fd;  /* one byte here lets the child exec */
	int err_fd; /* the child's errno when its exec fails; EOF when it succeeds */
};

/* Forks a child that waits, then execvp's argv. Returns 0 or a negative errno. */
int usm_os_spawn_held(char *const argv[], struct usm_os_spawn *sp);

/* Lets the child exec. Returns 0 once it has, or the exec's negative
 * errno (the child is then reaped and sp->pid is 0). */
int usm_os_spawn_release(struct usm_os_spawn *sp);

/* Gives up on a held child: it exits 127 without exec'ing and is reaped. */
void usm_os_spawn_abort(struct usm_os_spawn *sp);

#endif
