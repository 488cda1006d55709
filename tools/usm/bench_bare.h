/* The scan backend's kernel mechanism issued directly, without usm's
 * dirty-tracking API: async userfaultfd write-protect and one PAGEMAP_SCAN
 * with PM_SCAN_WP_MATCHING per collect. What usm_dirty's scan backend is
 * measured against, to show what its API costs on top. */
#ifndef USM_BENCH_BARE_H
#define USM_BENCH_BARE_H

#include <stddef.h>

struct bare_scan;

/* Registers and protects [start, start+len). Returns 0 and *out, or a
 * negative errno (-ENOSYS: no WP_ASYNC or PAGEMAP_SCAN here). */
int bare_scan_start(void *start, size_t len, struct bare_scan **out);
/* The pages written since the last collect (re-protected in the same
 * walk), or a negative errno. */
long bare_scan_collect(struct bare_scan *s);
void bare_scan_stop(struct bare_scan *s);

#endif
