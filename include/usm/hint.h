/* Hints from a program about its own memory, for usm to act on.
 *
 * Under usm run the tagger's pager acts on them (and tells usmd, when the
 * process shares a pool); elsewhere they become the nearest madvise or
 * mlock, so a program can call them unconditionally. */
#ifndef USM_HINT_H
#define USM_HINT_H

#include <stddef.h>

enum usm_hint_kind {
	USM_HINT_WILLNEED = 1,    /* fill what is evicted in the range now */
	USM_HINT_SEQUENTIAL,      /* the range is read in order: prefetch further */
	USM_HINT_COLD,            /* evict the range now */
	USM_HINT_PIN,             /* never evict the range */
	USM_HINT_UNPIN,
	USM_HINT_KIND_COUNT
};

/* kind: USM_HINT_WILLNEED (bring it back now), USM_HINT_SEQUENTIAL (read in
 * order: fill ahead), USM_HINT_COLD (evict it now), USM_HINT_PIN (never
 * evict; at most half the limit), USM_HINT_UNPIN.
 * Returns 0 or -errno: -EINVAL for a bad kind, -ENOMEM when a pin would
 * hold too much. */
int usm_hint(void *addr, size_t len, enum usm_hint_kind kind);

/* 1 when the tagger of usm run manages this process, else 0. */
int usm_hint_managed(void);

#endif
