/* The floor of outline instrumentation, for bench/trace.sh: every callback
 * usm cc's code calls, doing nothing, linked into the program itself (a
 * direct call, no PLT). A build with these runs every call and spill the
 * instrumentation costs, and nothing else: no runtime could count faster
 * through the same calls. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NOTHING(n)                                                                                 \
	void __asan_load##n(uintptr_t a);                                                          \
	void __asan_store##n(uintptr_t a);                                                         \
	void __asan_load##n(uintptr_t a)                                                           \
	{                                                                                          \
		(void)a;                                                                           \
	}                                                                                          \
	void __asan_store##n(uintptr_t a)                                                          \
	{                                                                                          \
		(void)a;                                                                           \
	}
NOTHING(1)
NOTHING(2)
NOTHING(4)
NOTHING(8)
NOTHING(16)

void __asan_loadN(uintptr_t a, size_t n);
void __asan_storeN(uintptr_t a, size_t n);
void *__asan_memcpy(void *d, const void *s, size_t n);
void *__asan_memmove(void *d, const void *s, size_t n);
void *__asan_memset(void *d, int c, size_t n);
void __asan_init(void);
void __asan_version_mismatch_check_v8(void);
void __asan_register_elf_globals(uintptr_t *flag, void *start, void *stop);
void __asan_unregister_elf_globals(uintptr_t *flag, void *start, void *stop);
void __asan_register_globals(void *g, uintptr_t n);
void __asan_unregister_globals(void *g, uintptr_t n);
void __asan_handle_no_return(void);
extern int __asan_option_detect_stack_use_after_return;

void __asan_loadN(uintptr_t a, size_t n)
{
	(void)a;
	(void)n;
}

void __asan_storeN(uintptr_t a, size_t n)
{
	(void)a;
	(void)n;
}

void *__asan_memcpy(void *d, const void *s, size_t n)
{
	return memcpy(d, s, n);
}

void *__asan_memmove(void *d, const void *s, size_t n)
{
	return memmove(d, s, n);
}

void *__asan_memset(void *d, int c, size_t n)
{
	return memset(d, c, n);
}

void __asan_init(void)
{
}

void __asan_version_mismatch_check_v8(void)
{
}

void __asan_register_elf_globals(uintptr_t *flag, void *start, void *stop)
{
	(void)flag;
	(void)start;
	(void)stop;
}

void __asan_unregister_elf_globals(uintptr_t *flag, void *start, void *stop)
{
	(void)flag;
	(void)start;
	(void)stop;
}

void __asan_register_globals(void *g, uintptr_t n)
{
	(void)g;
	(void)n;
}

void __asan_unregister_globals(void *g, uintptr_t n)
{
	(void)g;
	(void)n;
}

void __asan_handle_no_return(void)
{
}

int __asan_option_detect_stack_use_after_return;
