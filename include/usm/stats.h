/* The pager's figures as one list of fields, from which every copy is made:
 * struct usm_pager_stats, usmd's STATS message (proto.h), the per-process
 * file the tagger writes and usm run's merge and --stats JSON. */
#ifndef USM_STATS_H
#define USM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(name, wire, merge, run_key), every field a uint64_t:
 *   name     the field, and its key in the tagger's per-process file
 *   wire     WIRE: also sent to usmd in STATS, in this order (docs/protocol.md),
 *            so these fields come first and keep their order; ROW: as WIRE, and
 *            usmd passes it on in its STATUS rows; LOCAL: not sent
 *   merge    how usm run combines its processes: SUM, MAX, CMD (the command's
 *            own, else the first process's that has one), NONE (not combined)
 *   run_key  its key in `usm run --stats`, NULL when not written there
 * A new figure is one line here; the names users see may not change. */
#define USM_PAGER_STAT_FIELDS(X)                                                       \
	X(resident,           ROW,   NONE, NULL)                       /* bytes, now */    \
	X(peak_resident,      WIRE,  MAX,  "peak_resident_bytes")      /* bytes */         \
	X(first_touch,        ROW,   SUM,  "first_touch_faults")       /* new pages */     \
	X(refaults,           ROW,   SUM,  "refaults")                 /* evicted ones */  \
	X(evictions,          ROW,   SUM,  "evictions")                /* pages */         \
	X(bytes_to_store,     ROW,   SUM,  "bytes_to_store")                               \
	X(bytes_from_store,   ROW,   SUM,  "bytes_from_store")                             \
	X(latency_p50_ns,     ROW,   CMD,  "fault_latency_p50_ns")     /* to filled page */ \
	X(latency_p99_ns,     ROW,   CMD,  "fault_latency_p99_ns")                         \
	X(limit,              WIRE,  NONE, NULL)                       /* bytes, now */    \
	X(store_memory,       ROW,   NONE, NULL)  /* bytes, now: the store's in memory */  \
	X(store_disk,         ROW,   NONE, NULL)  /* bytes, now: in its file */            \
	X(metadata,           ROW,   NONE, NULL)  /* bytes, now: usm's own, not the store */ \
	X(first_write_faults, LOCAL, SUM,  "first_write_faults")       /* on clean pages */ \
	X(evictions_clean,    LOCAL, SUM,  "evictions_clean")          /* copy kept */     \
	X(prefetched,         LOCAL, SUM,  "prefetched_pages")         /* ahead of faults */ \
	X(peak_resident_held, LOCAL, MAX,  "peak_resident_held_bytes") /* evictions held */ \
	X(regions,            LOCAL, NONE, NULL)                                           \
	X(managed_bytes,      LOCAL, NONE, NULL)                                           \
	X(pinned,             LOCAL, NONE, NULL)                       /* bytes, usm_hint */ \
	X(peak_total,         LOCAL, MAX,  "peak_total_bytes")  /* resident + usm's own */ \
	X(peak_store_memory,  LOCAL, MAX,  "peak_store_memory_bytes")                      \
	X(peak_store_disk,    LOCAL, MAX,  "peak_store_disk_bytes")                        \
	X(peak_metadata,      LOCAL, MAX,  "peak_metadata_bytes")  /* usm's own, not store */ \
	X(blocks_to_disk,     LOCAL, SUM,  "blocks_to_disk")       /* the file tier's puts */ \
	X(poisoned,           LOCAL, SUM,  "poisoned_pages")  /* the store lost: SIGBUS there */ \
	X(polled_faults,      LOCAL, SUM,  "polled_faults")   /* found by the pager's polling */

struct usm_pager_stats {
#define USM_STAT_MEMBER_(name, wire, merge, run_key) uint64_t name;
	USM_PAGER_STAT_FIELDS(USM_STAT_MEMBER_)
#undef USM_STAT_MEMBER_
};

enum usm_stat_merge { USM_STAT_SUM, USM_STAT_MAX, USM_STAT_CMD, USM_STAT_NONE };

/* The list as data, for the code that walks every field by name. */
struct usm_pager_stat_field {
	const char *name;
	const char *run_key;      /* NULL: not in usm run --stats */
	size_t offset;            /* in struct usm_pager_stats */
	enum usm_stat_merge merge;
};

extern const struct usm_pager_stat_field usm_pager_stat_fields[];
extern const size_t usm_pager_stat_nfields;

static inline uint64_t *usm_pager_stat(struct usm_pager_stats *s,
				       const struct usm_pager_stat_field *f)
{
	return (uint64_t *)((char *)s + f->offset);
}

static inline uint64_t usm_pager_stat_get(const struct usm_pager_stats *s,
					  const struct usm_pager_stat_field *f)
{
	return *(const uint64_t *)((const char *)s + f->offset);
}

/* Adds one process's figures into a total, each field by its merge;
 * is_cmd: the process is the command itself (not one it forked). */
void usm_pager_stats_merge(struct usm_pager_stats *total, const struct usm_pager_stats *one,
			   bool is_cmd);

#endif
