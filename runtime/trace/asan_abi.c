/* The callbacks clang's AddressSanitizer instrumentation calls in outline
 * mode (usm cc: -asan-instrumentation-with-call-threshold=0), implemented
 * by usm instead of the ASan runtime, as Memorizer implements KASAN's:
 * every load and store becomes a count for the object it hits. The
 * caller's return address is the access IP.
 *
 * Shadow memory never exists here: usm cc turns off the instrumentation
 * that writes it (stack redzones, use-after-return), and the report_*
 * entry points, which only ASan's inline checks reach, do nothing. */
#include "access.h"

#include <string.h>

/* Every instrumented access runs one of these: no frame of their own (the
 * runtime keeps frame pointers elsewhere, for profiles). */
#pragma GCC optimize("omit-frame-pointer")

#define CALLER ((uintptr_t)__builtin_return_address(0))

#define RT_LOADSTORE(n)                                                                            \
	RT_EXPORT void __asan_load##n(uintptr_t a)                                                 \
	{                                                                                          \
		rt_access_fast(a, 0, CALLER);                                                      \
	}                                                                                          \
	RT_EXPORT void __asan_store##n(uintptr_t a)                                                \
	{                                                                                          \
		rt_access_fast(a, 1, CALLER);                                                      \
	}                                                                                          \
	RT_EXPORT void __asan_load##n##_noabort(uintptr_t a)                                       \
	{                                                                                          \
		rt_access_fast(a, 0, CALLER);                                                      \
	}                                                                                          \
	RT_EXPORT void __asan_store##n##_noabort(uintptr_t a)                                      \
	{                                                                                          \
		rt_access_fast(a, 1, CALLER);                                                      \
	}                                                                                          \
	RT_EXPORT void __asan_report_load##n(uintptr_t a)                                          \
	{                                                                                          \
		(void)a;                                                                           \
	}                                                                                          \
	RT_EXPORT void __asan_report_store##n(uintptr_t a)                                         \
	{                                                                                          \
		(void)a;                                                                           \
	}                                                                                          \
	RT_EXPORT void __asan_report_load##n##_noabort(uintptr_t a)                                \
	{                                                                                          \
		(void)a;                                                                           \
	}                                                                                          \
	RT_EXPORT void __asan_report_store##n##_noabort(uintptr_t a)                               \
	{                                                                                          \
		(void)a;                                                                           \
	}

/* The prototypes the instrumentation expects, for -Wmissing-prototypes. */
#define RT_PROTOS(n)                                                                               \
	void __asan_load##n(uintptr_t a);                                                          \
	void __asan_store##n(uintptr_t a);                                                         \
	void __asan_load##n##_noabort(uintptr_t a);                                                \
	void __asan_store##n##_noabort(uintptr_t a);                                               \
	void __asan_report_load##n(uintptr_t a);                                                   \
	void __asan_report_store##n(uintptr_t a);                                                  \
	void __asan_report_load##n##_noabort(uintptr_t a);                                         \
	void __asan_report_store##n##_noabort(uintptr_t a);

RT_PROTOS(1)
RT_PROTOS(2)
RT_PROTOS(4)
RT_PROTOS(8)
RT_PROTOS(16)
RT_LOADSTORE(1)
RT_LOADSTORE(2)
RT_LOADSTORE(4)
RT_LOADSTORE(8)
RT_LOADSTORE(16)

void __asan_loadN(uintptr_t a, size_t n);
void __asan_storeN(uintptr_t a, size_t n);
void __asan_loadN_noabort(uintptr_t a, size_t n);
void __asan_storeN_noabort(uintptr_t a, size_t n);
void __asan_report_load_n(uintptr_t a, size_t n);
void __asan_report_store_n(uintptr_t a, size_t n);
void *__asan_memcpy(void *d, const void *s, size_t n);
void *__asan_memmove(void *d, const void *s, size_t n);
void *__asan_memset(void *d, int c, size_t n);
void __asan_init(void);
void __asan_version_mismatch_check_v8(void);
void __asan_handle_no_return(void);
void __asan_before_dynamic_init(const char *module);
void __asan_after_dynamic_init(void);
void __asan_poison_stack_memory(uintptr_t a, size_t n);
void __asan_unpoison_stack_memory(uintptr_t a, size_t n);
void __asan_alloca_poison(uintptr_t a, size_t n);
void __asan_allocas_unpoison(uintptr_t top, uintptr_t bottom);
void __asan_poison_cxx_array_cookie(uintptr_t p);
uintptr_t __asan_load_cxx_array_cookie(uintptr_t *p);

/* The sized callbacks: an access of n bytes counts once, at its start. */
#define RT_ACCESS_N(name, write)                                                                   \
	RT_EXPORT void name(uintptr_t a, size_t n)                                                 \
	{                                                                                          \
		if (n)                                                                             \
			rt_access_fast(a, write, CALLER);                                          \
	}

RT_ACCESS_N(__asan_loadN, 0)
RT_ACCESS_N(__asan_storeN, 1)
RT_ACCESS_N(__asan_loadN_noabort, 0)
RT_ACCESS_N(__asan_storeN_noabort, 1)

/* Callbacks the ABI requires that have nothing to do here: reports (the
 * runtime never reports) and stack poisoning (there is no shadow). */
#define RT_IGNORE_RANGE(name)                                                                      \
	RT_EXPORT void name(uintptr_t a, size_t n)                                                 \
	{                                                                                          \
		(void)a;                                                                           \
		(void)n;                                                                           \
	}

RT_IGNORE_RANGE(__asan_report_load_n)
RT_IGNORE_RANGE(__asan_report_store_n)

/* The compiler sends every memcpy, memmove and memset of instrumented code
 * here, calls written in the source included (they are builtins): one read
 * of the source and one write of the destination, as KASAN checks them. */
#define RT_COPY(name, fn)                                                                          \
	RT_EXPORT void *name(void *d, const void *s, size_t n)                                     \
	{                                                                                          \
		if (n) {                                                                           \
			rt_access_fast((uintptr_t)s, 0, CALLER);                                   \
			rt_access_fast((uintptr_t)d, 1, CALLER);                                   \
		}                                                                                  \
		return fn(d, s, n);                                                                \
	}

RT_COPY(__asan_memcpy, memcpy)
RT_COPY(__asan_memmove, memmove)

RT_EXPORT void *__asan_memset(void *d, int c, size_t n)
{
	if (n)
		rt_access_fast((uintptr_t)d, 1, CALLER);
	return memset(d, c, n);
}

/* Each instrumented module's constructor calls these two first: the
 * caller is inside the module, which makes it "instrumented". */
RT_EXPORT void __asan_init(void)
{
	rt_module_add(CALLER);
}

RT_EXPORT void __asan_version_mismatch_check_v8(void)
{
	rt_module_add(CALLER);
}

RT_EXPORT void __asan_handle_no_return(void)
{
}

RT_EXPORT void __asan_before_dynamic_init(const char *module)
{
	(void)module;
}

RT_EXPORT void __asan_after_dynamic_init(void)
{
}

RT_IGNORE_RANGE(__asan_poison_stack_memory)
RT_IGNORE_RANGE(__asan_unpoison_stack_memory)
RT_IGNORE_RANGE(__asan_alloca_poison)

RT_EXPORT void __asan_allocas_unpoison(uintptr_t top, uintptr_t bottom)
{
	(void)top;
	(void)bottom;
}

RT_EXPORT void __asan_poison_cxx_array_cookie(uintptr_t p)
{
	(void)p;
}

RT_EXPORT uintptr_t __asan_load_cxx_array_cookie(uintptr_t *p)
{
	return *p;
}

/* Instrumentation reads this to decide on fake stacks; usm cc turns
 * use-after-return off, and 0 keeps it off if a module was built without. */
RT_EXPORT int __asan_option_detect_stack_use_after_return;
