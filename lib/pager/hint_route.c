/* usm_hint: to the tagger when the process runs under usm run (it exports
 * usm_tagger_hint, found by name so that libusm needs no link to it), to
 * the kernel's nearest advice otherwise. */
#include <usm/hint.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>

typedef long (*tagger_hint_fn)(void *addr, size_t len, int kind);

static tagger_hint_fn tagger_hint(void)
{
	static _Atomic(tagger_hint_fn) fn;
	static atomic_bool looked;

	if (!atomic_load(&looked)) {
		atomic_store(&fn, (tagger_hint_fn)dlsym(RTLD_DEFAULT, "usm_tagger_hint"));
		atomic_store(&looked, true);
	}
	return atomic_load(&fn);
}

int usm_hint_managed(void)
{
	return tagger_hint() != NULL;
}

static int kernel_advice(void *addr, size_t len, enum usm_hint_kind kind)
{
	int rc;

	switch (kind) {
	case USM_HINT_WILLNEED:
		rc = madvise(addr, len, MADV_WILLNEED);
		break;
	case USM_HINT_SEQUENTIAL:
		rc = madvise(addr, len, MADV_SEQUENTIAL);
		break;
	case USM_HINT_COLD:
		rc = madvise(addr, len, MADV_COLD);
		break;
	case USM_HINT_PIN:
		rc = mlock(addr, len);
		break;
	case USM_HINT_UNPIN:
		rc = munlock(addr, len);
		break;
	default:
		return -EINVAL;
	}
	return rc < 0 ? -errno : 0;
}

int usm_hint(void *addr, size_t len, enum usm_hint_kind kind)
{
	tagger_hint_fn fn = tagger_hint();

	if (kind < USM_HINT_WILLNEED || kind >= USM_HINT_KIND_COUNT)
		return -EINVAL;
	if (fn)
		return (int)fn(addr, len, (int)kind);
	return kernel_advice(addr, len, kind);
}
