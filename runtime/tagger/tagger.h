/* libusm-tagger.so: preloaded into an unmodified program, it hands the
 * program's private anonymous memory to a usm pager.
 *   tagger.c   start-up, settings from the environment, fork, exit figures
 *   hooks.c    the replacements for libc's mapping calls
 *   patch.c    installing them over libc's own entry points
 *   scan.c     the anonymous mappings that exist before the hooks
 *   link.c     the link to usmd, when usm run found one */
#ifndef USM_TAGGER_H
#define USM_TAGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
void tagger_exit_now(int status) __attribute__((noreturn));
extern int tagger_pager_pid;     /* the process that started tagger_pager */
/* At _exit, once nothing of the process is left in its store: removes the
 * marker usm run would otherwise purge after (tagger.c). */
void tagger_store_ended(void);

/* usmd (link.c). join says hello before the pager starts and sets c's
 * limit (the grant) and its policy when usmd's config names one, and
 * copies the config's store spec, if any, into store_buf. Returns 0 (joined), 1 (usmd did
 * not answer: page on c as it is, and let the link thread join later;
 * may_setenv lets it tell the descendants so) or -errno (refused: page on
 * c for good), with one line on stderr unless joined. start runs the link
 * thread for the pager. */
int tagger_link_join(const char *path, struct usm_pager_config *c, uint32_t set_by_user,
		     char *store_buf, size_t store_len, bool may_setenv);
int tagger_link_start(struct usm_pager *p);
void tagger_link_hint(int kind, uint64_t bytes);
/* The store the pager opened: one whose blocks outlive the process
 * (prefix != NULL) is told to usmd, now and after every hello, so that
 * usmd deletes its keys if the process ends without BYE. */
void tagger_link_store(const char *spec, const char *prefix);
void tagger_link_forget(void);   /* in a fork child */
void tagger_link_leave(void);    /* at exit: BYE, unless usmd must delete the keys */

/* What usm_hint() calls in a managed process (lib/hint.c). */
long usm_tagger_hint(void *addr, size_t len, int kind);

/* Says why and ends the process: the tagger cannot leave it half managed. */
void tagger_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
