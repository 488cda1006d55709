/* The x86-64 syscall names, generated at build time from <asm/unistd_64.h>
 * (scripts/gen-syscall-names.sh). */
#ifndef USM_SYSCALLS_NAMES_H
#define USM_SYSCALLS_NAMES_H

extern const char *const usm_syscall_names[];
extern const unsigned usm_syscall_names_count;

#endif
