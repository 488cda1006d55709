/* Globals of instrumented modules, registered by their constructors with
 * the descriptors ASan instrumentation emits (the layout of clang's
 * __asan_global, version 8). Each becomes an object of allocator "global"
 * whose alloc IP is its own address, so that a report names the variable.
 * Globals are recorded even while tracing is disabled: they exist from the
 * start, and a later "enabled on" must still see them. */
#include "rt.h"

struct asan_global {
	uintptr_t beg;
	uintptr_t size;
	uintptr_t size_with_redzone;
	const char *name;
	const char *module_name;
	uintptr_t has_dynamic_init;
	void *location;
	uintptr_t odr_indicator;
};

void __asan_register_globals(struct asan_global *g, uintptr_t n);
void __asan_unregister_globals(struct asan_global *g, uintptr_t n);
void __asan_register_elf_globals(uintptr_t *flag, void *start, void *stop);
void __asan_unregister_elf_globals(uintptr_t *flag, void *start, void *stop);

static void register_globals(struct asan_global *g, uintptr_t n, uintptr_t caller)
{
	uint64_t now;

	if (!rt.active || !rt.ready || rt.finished)
		return;
	rt_module_add(caller);
	rt_busy++;
	now = rt_now();
	for (uintptr_t i = 0; i < n; i++)
		rt_obj_new(g[i].beg, g[i].size, g[i].size, 0, RT_ALLOC_GLOBAL, g[i].beg, now);
	rt_busy--;
}

RT_EXPORT void __asan_register_globals(struct asan_global *g, uintptr_t n)
{
	register_globals(g, n, (uintptr_t)__builtin_return_address(0));
}

/* Globals stay live to the end: modules unregister them from their
 * destructors, which run before the final CAPMAP is written. */
RT_EXPORT void __asan_unregister_globals(struct asan_global *g, uintptr_t n)
{
	(void)g;
	(void)n;
}

RT_EXPORT void __asan_register_elf_globals(uintptr_t *flag, void *start, void *stop)
{
	if (*flag)
		return;
	*flag = 1;
	register_globals(start,
	                 (uintptr_t)((char *)stop - (char *)start) / sizeof(struct asan_global),
	                 (uintptr_t)__builtin_return_address(0));
}

RT_EXPORT void __asan_unregister_elf_globals(uintptr_t *flag, void *start, void *stop)
{
	(void)flag;
	(void)start;
	(void)stop;
}
