/* String functions called by instrumented code. Unlike memcpy, memmove and
 * memset (which the compiler routes to __asan_mem*), calls to these reach
 * libc, whose own loads are not instrumented: the runtime stands in front
 * of them and counts one read of each string argument and one write of
 * each destination, as ASan's interceptors check them. Only calls from an
 * instrumented module count; the real function comes from libc through
 * dlsym(RTLD_NEXT). Until it is known (a call before the runtime is
 * ready, or from inside dlsym), a plain loop does the job: the runtime is
 * built with -fno-builtin so these loops stay loops. */
#include "access.h"

#include <dlfcn.h>
#include <string.h>

#define CALLER ((uintptr_t)__builtin_return_address(0))

static inline bool counted(uintptr_t ip)
{
	return RT_LOAD(&rt_record_accesses) && !rt_busy && rt_ip_instrumented(ip);
}

static void *real(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (f || rt_busy || !rt.ready)
		return f;
	rt_busy++;
	f = dlsym(RTLD_NEXT, name);
	rt_busy--;
	__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	return f;
}

#define REAL(type, name) ((type)real(&real_##name, #name))

static void *real_strlen, *real_strnlen, *real_strcmp, *real_strncmp, *real_strcpy, *real_strncpy,
        *real_strcat, *real_strncat, *real_strchr, *real_strrchr, *real_memchr, *real_memcmp,
        *real_bcmp;

static size_t loop_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static size_t loop_strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

static int loop_strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x != y || !x)
			return x - y;
	}
	return 0;
}

static int loop_memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

static char *loop_strncpy(char *d, const char *s, size_t n)
{
	size_t i = 0;

	for (; i < n && s[i]; i++)
		d[i] = s[i];
	for (; i < n; i++)
		d[i] = 0;
	return d;
}

static char *loop_strchr(const char *s, int c, bool last)
{
	const char *hit = NULL;

	for (;; s++) {
		if (*s == (char)c) {
			hit = s;
			if (!last)
				break;
		}
		if (!*s)
			break;
	}
	return (char *)hit;
}

static void read1(const void *p, uintptr_t ip)
{
	rt_access_slow((uintptr_t)p, 0, ip);
}

static void write1(const void *p, uintptr_t ip)
{
	rt_access_slow((uintptr_t)p, 1, ip);
}

RT_EXPORT size_t strlen(const char *s)
{
	size_t (*f)(const char *) = REAL(size_t(*)(const char *), strlen);

	if (counted(CALLER))
		read1(s, CALLER);
	return f ? f(s) : loop_strlen(s);
}

RT_EXPORT size_t strnlen(const char *s, size_t max)
{
	size_t (*f)(const char *, size_t) = REAL(size_t(*)(const char *, size_t), strnlen);

	if (max && counted(CALLER))
		read1(s, CALLER);
	return f ? f(s, max) : loop_strnlen(s, max);
}

RT_EXPORT int strcmp(const char *a, const char *b)
{
	int (*f)(const char *, const char *) = REAL(int (*)(const char *, const char *), strcmp);

	if (counted(CALLER)) {
		read1(a, CALLER);
		read1(b, CALLER);
	}
	return f ? f(a, b) : loop_strncmp(a, b, (size_t)-1);
}

RT_EXPORT int strncmp(const char *a, const char *b, size_t n)
{
	int (*f)(const char *, const char *, size_t) =
	        REAL(int (*)(const char *, const char *, size_t), strncmp);

	if (n && counted(CALLER)) {
		read1(a, CALLER);
		read1(b, CALLER);
	}
	return f ? f(a, b, n) : loop_strncmp(a, b, n);
}

RT_EXPORT char *strcpy(char *d, const char *s)
{
	char *(*f)(char *, const char *) = REAL(char *(*)(char *, const char *), strcpy);

	if (counted(CALLER)) {
		read1(s, CALLER);
		write1(d, CALLER);
	}
	return f ? f(d, s) : loop_strncpy(d, s, loop_strlen(s) + 1);
}

RT_EXPORT char *strncpy(char *d, const char *s, size_t n)
{
	char *(*f)(char *, const char *, size_t) =
	        REAL(char *(*)(char *, const char *, size_t), strncpy);

	if (n && counted(CALLER)) {
		read1(s, CALLER);
		write1(d, CALLER);
	}
	return f ? f(d, s, n) : loop_strncpy(d, s, n);
}

RT_EXPORT char *strcat(char *d, const char *s)
{
	char *(*f)(char *, const char *) = REAL(char *(*)(char *, const char *), strcat);

	if (counted(CALLER)) {
		read1(s, CALLER);
		write1(d, CALLER);
	}
	if (f)
		return f(d, s);
	loop_strncpy(d + loop_strlen(d), s, loop_strlen(s) + 1);
	return d;
}

RT_EXPORT char *strncat(char *d, const char *s, size_t n)
{
	char *(*f)(char *, const char *, size_t) =
	        REAL(char *(*)(char *, const char *, size_t), strncat);
	size_t dl, sl;

	if (n && counted(CALLER)) {
		read1(s, CALLER);
		write1(d, CALLER);
	}
	if (f)
		return f(d, s, n);
	dl = loop_strlen(d);
	sl = loop_strnlen(s, n);
	loop_strncpy(d + dl, s, sl);
	d[dl + sl] = 0;
	return d;
}

RT_EXPORT char *strchr(const char *s, int c)
{
	char *(*f)(const char *, int) = REAL(char *(*)(const char *, int), strchr);

	if (counted(CALLER))
		read1(s, CALLER);
	return f ? f(s, c) : loop_strchr(s, c, false);
}

RT_EXPORT char *strrchr(const char *s, int c)
{
	char *(*f)(const char *, int) = REAL(char *(*)(const char *, int), strrchr);

	if (counted(CALLER))
		read1(s, CALLER);
	return f ? f(s, c) : loop_strchr(s, c, true);
}

RT_EXPORT void *memchr(const void *s, int c, size_t n)
{
	void *(*f)(const void *, int, size_t) = REAL(void *(*)(const void *, int, size_t), memchr);
	const unsigned char *p = s;

	if (n && counted(CALLER))
		read1(s, CALLER);
	if (f)
		return f(s, c, n);
	for (size_t i = 0; i < n; i++)
		if (p[i] == (unsigned char)c)
			return (void *)(p + i);
	return NULL;
}

RT_EXPORT int memcmp(const void *a, const void *b, size_t n)
{
	int (*f)(const void *, const void *, size_t) =
	        REAL(int (*)(const void *, const void *, size_t), memcmp);

	if (n && counted(CALLER)) {
		read1(a, CALLER);
		read1(b, CALLER);
	}
	return f ? f(a, b, n) : loop_memcmp(a, b, n);
}

/* clang turns memcmp() == 0 into bcmp() */
int bcmp(const void *a, const void *b, size_t n);
RT_EXPORT int bcmp(const void *a, const void *b, size_t n)
{
	int (*f)(const void *, const void *, size_t) =
	        REAL(int (*)(const void *, const void *, size_t), bcmp);

	if (n && counted(CALLER)) {
		read1(a, CALLER);
		read1(b, CALLER);
	}
	return f ? f(a, b, n) : loop_memcmp(a, b, n);
}
