/* libusm-tagger.so: preloaded into an unmodified program, it hands the
 * program's private anonymous memory to a usm pager.
 *   tagger.c   start-up, settings from the environment, fork, exit figures
 *   hooks.c    the replacements for libc's mapping calls
 *   patch.c    installing them over libc's own entry points
 *   scan.c     the anonymous mappings that exist before the hooks */
#ifndef USM_TAGGER_H
#define USM_TAGGER_H

#include <stddef.h>

#include <usm/pager.h>

extern struct usm_pager *tagger_pager;

/* Replaces libc's mmap, munmap, mremap, madvise and brk with the hooks.
 * Returns 0 or -errno (then nothing is patched). */
int tagger_patch_libc(void);

/* Hands every existing private anonymous mapping to the pager. */
void tagger_scan_mappings(struct usm_pager *p);

/* The hooks (hooks.c), installed by tagger_patch_libc. */
void *tagger_mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int tagger_munmap(void *addr, size_t len);
void *tagger_mremap(void *old, size_t old_len, size_t new_len, int flags, ...);
int tagger_madvise(void *addr, size_t len, int advice);
int tagger_brk(void *addr);

/* Says why and ends the process: the tagger cannot leave it half managed. */
void tagger_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
