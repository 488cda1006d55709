/* Futex wait and wake on a 32-bit word of this process (FUTEX_PRIVATE):
 * the pager's callers sleep on these until the pager thread answers. */
#ifndef USM_OS_FUTEX_H
#define USM_OS_FUTEX_H

#include <stdatomic.h>

/* Sleeps while *word == expected (returns at once otherwise, or on a
 * spurious wake-up: callers re-check their condition in a loop). */
void usm_os_futex_wait(atomic_int *word, int expected);

/* Wakes up to `count` threads sleeping on word. */
void usm_os_futex_wake(atomic_int *word, int count);

#endif
