/* One traced process's modules in libdwfl: symbols for its addresses and
 * unwinding of user stacks sampled by perf (registers + a stack copy). */
#ifndef USM_SYSCALLS_UNWIND_H
#define USM_SYSCALLS_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* DWARF's x86-64 register order: rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip. */
#define USM_UNWIND_NREGS 17

struct usm_unwinder;

struct usm_unwind_sym {
	const char *function; /* NULL when unknown; strings live as long as the unwinder */
	uint64_t function_offset;
	const char *module;
	uint64_t module_offset;
	const char *file;
	int line;
};

/* Reports pid's modules from /proc/PID/maps. Returns 0 or a negative errno. */
int usm_unwinder_open(pid_t pid, struct usm_unwinder **out);
void usm_unwinder_close(struct usm_unwinder *u);
/* Re-reads the maps (after a dlopen), at most every 100 ms. */
void usm_unwinder_refresh(struct usm_unwinder *u);

/* Re-reads the maps when the process has exec'd another program since
 * they were read (the execve record itself may have been lost). */
void usm_unwinder_check_exec(struct usm_unwinder *u);

/* Symbol of addr; a return address is looked up at addr - 1 when
 * return_addr. Returns 0 or -ENOENT (addr in no module; sym zeroed). */
int usm_unwinder_symbol(struct usm_unwinder *u, uint64_t addr, bool return_addr,
			struct usm_unwind_sym *sym);

/* Unwinds thread tid's sampled stack (regs in DWARF order; stack the bytes
 * from regs' rsp) and gives the first return address outside the C library
 * and the dynamic loader: the program's own call site. Returns 0, -ENOENT
 * when every frame found is in the C library, or -EINVAL when no frame
 * could be unwound. */
int usm_unwinder_caller(struct usm_unwinder *u, pid_t tid, const uint64_t regs[USM_UNWIND_NREGS],
			const void *stack, size_t stack_size, uint64_t *caller);

#endif
