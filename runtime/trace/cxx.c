/* C++'s operator new and delete, for programs built by usm c++. They are
 * libstdc++'s, which calls malloc and free: left alone, every C++ object
 * would be allocated "in operator new". These wrappers note their own
 * caller as the allocation (or free) IP, then call libstdc++'s, whose
 * malloc or free then records that IP. The note is undone by a cleanup
 * that also runs when operator new throws (this file is built with
 * -fexceptions so that the unwinder can pass through it). */
#include "rt.h"

#include <dlfcn.h>

#define CALLER ((uintptr_t)__builtin_return_address(0))

__thread uintptr_t rt_caller_ip RT_TLS;

static void restore(uintptr_t *saved)
{
	rt_caller_ip = *saved;
}

static void *real(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!f) {
		rt_busy++;
		f = dlsym(RTLD_NEXT, name);
		rt_busy--;
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f;
}

#define NEW(sym, params, args)                                                                     \
	void *sym params;                                                                          \
	RT_EXPORT void *sym params                                                                 \
	{                                                                                          \
		static void *slot;                                                                 \
		uintptr_t saved __attribute__((cleanup(restore))) = rt_caller_ip;                  \
		void *(*f)params = (void *(*)params)real(&slot, #sym);                             \
                                                                                                   \
		if (!rt_caller_ip)                                                                 \
			rt_caller_ip = CALLER;                                                     \
		return f ? f args : NULL;                                                          \
	}

#define DELETE(sym, params, args)                                                                  \
	void sym params;                                                                           \
	RT_EXPORT void sym params                                                                  \
	{                                                                                          \
		static void *slot;                                                                 \
		uintptr_t saved __attribute__((cleanup(restore))) = rt_caller_ip;                  \
		void(*f) params = (void(*) params)real(&slot, #sym);                               \
                                                                                                   \
		if (!rt_caller_ip)                                                                 \
			rt_caller_ip = CALLER;                                                     \
		if (f)                                                                             \
			f args;                                                                    \
	}

/* operator new(size_t), new[](size_t), and their nothrow and aligned forms */
NEW(_Znwm, (size_t n), (n))
NEW(_Znam, (size_t n), (n))
NEW(_ZnwmRKSt9nothrow_t, (size_t n, const void *nt), (n, nt))
NEW(_ZnamRKSt9nothrow_t, (size_t n, const void *nt), (n, nt))
NEW(_ZnwmSt11align_val_t, (size_t n, size_t al), (n, al))
NEW(_ZnamSt11align_val_t, (size_t n, size_t al), (n, al))
/* operator delete(void *), delete[], and their sized forms */
DELETE(_ZdlPv, (void *p), (p))
DELETE(_ZdaPv, (void *p), (p))
DELETE(_ZdlPvm, (void *p, size_t n), (p, n))
DELETE(_ZdaPvm, (void *p, size_t n), (p, n))
DELETE(_ZdlPvSt11align_val_t, (void *p, size_t al), (p, al))
DELETE(_ZdaPvSt11align_val_t, (void *p, size_t al), (p, al))
