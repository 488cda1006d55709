/* What usm trace report and usm trace diff share: a CAPMAP's maps copy
 * opened for symbolizing, and the name of an allocation or access site. */
#ifndef USM_TRACE_COMMON_H
#define USM_TRACE_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include <usm/capmap.h>
#include <usm/symbolize.h>

/* Where a site is, for a person: "function (file:line)" or less. */
struct trace_place {
	char where[512];
	struct usm_symbol sym;
};

/* The symbolizer of FILE's maps copy: maps, or FILE.maps when it exists,
 * or else FILE.kallsyms (usm ktrace's kernel symbols).
 * *symz is NULL when there is none or it cannot be read (then addresses
 * are shown). Returns 0, or 1 after saying why (an unreadable maps). */
int trace_open_maps(const char *cmd, const char *path, const char *maps,
                    struct usm_symbolizer **symz);

/* An allocation site (a global's "IP" is its own address) and an access
 * or call site (a return address: the instruction is the byte before). */
void trace_place_site(struct usm_symbolizer *symz, uint64_t alloc_ip, const char *allocator,
                      struct trace_place *p);
void trace_place_ip(struct usm_symbolizer *symz, uint64_t ip, struct trace_place *p);

/* Sums the CAPMAP at path (usm_capmap_aggregate): 0, or 1 after one line
 * "usm: CMD: PATH: ..." saying why. */
int trace_aggregate(const char *cmd, const char *path, const struct usm_capmap_agg_opts *opts,
                    struct usm_capmap_agg *agg);

#endif
