/* The classic way, written by hand as a program would without usm:
 * mprotect(PROT_READ) and a SIGSEGV handler that makes the faulting page
 * writable again (and, for dirty tracking, marks it in a bitmap). The
 * baseline every usm row of usm bench primitives is a ratio to. */
#ifndef USM_BENCH_CLASSIC_H
#define USM_BENCH_CLASSIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Installs the handler in front of every other one for [start, start+len)
 * (faults elsewhere go to the handler that was there); with track, written
 * pages are marked. Returns 0 or a negative errno. */
int classic_begin(void *start, size_t len, bool track);
/* Puts the previous SIGSEGV handler back. */
void classic_end(void);

/* mprotect of part of the range, as the classic program calls it. */
int classic_protect(void *addr, size_t len);
int classic_unprotect(void *addr, size_t len);

/* A tracking cycle's collect: protects the whole range again, then takes
 * the marks. Returns how many pages were written since the last collect,
 * or -ENOMEM when an unprotect failed on the VMA limit (the handler then
 * made the range writable whole: every page must be taken as written). */
long classic_collect(void);

/* How many unprotects the handler made before the first that failed
 * (-ENOMEM on vm.max_map_count), and whether one failed. */
uint64_t classic_unprotects(void);
bool classic_overflowed(void);

#endif
