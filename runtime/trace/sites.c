/* The runtime's side of the trace pass (inline_abi.h): the process-wide
 * numbering of access sites and the slow path the emitted code calls
 * when its inline fast path cannot count. The caller's return address is
 * the access IP: one call per site, so one IP per site, as in outline
 * mode's one callback call per access. */
#include "access.h"

uint64_t __usm_trace_sites(uint64_t n);
void __usm_trace_load(uintptr_t a, uint64_t site);
void __usm_trace_store(uintptr_t a, uint64_t site);
void __usm_trace_thread(void);

#pragma GCC optimize("omit-frame-pointer")

#define CALLER ((uintptr_t)__builtin_return_address(0))

static uint64_t next_site;

/* Each instrumented module's constructor: its first site's number. When
 * the numbering is full its sites get none (every access takes the slow
 * path, still counted). */
RT_EXPORT uint64_t __usm_trace_sites(uint64_t n)
{
	uint64_t base = __atomic_fetch_add(&next_site, n, __ATOMIC_RELAXED);

	if (base > USM_TRACE_MAX_SITES || n > USM_TRACE_MAX_SITES - base)
		return USM_TRACE_MAX_SITES;
	return base;
}

RT_EXPORT void __usm_trace_load(uintptr_t a, uint64_t site)
{
	rt_access_site(a, 0, CALLER, site);
}

RT_EXPORT void __usm_trace_store(uintptr_t a, uint64_t site)
{
	rt_access_site(a, 1, CALLER, site);
}

/* A thread's first access: its block, when the runtime is ready. */
RT_EXPORT void __usm_trace_thread(void)
{
	if (RT_LOAD(&rt_record_accesses) && !rt_busy)
		rt_thread_get();
}
