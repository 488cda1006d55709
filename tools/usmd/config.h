/* usmd's config file (docs/usmd.md): the pool's size and policy, and per
 * process name the weight, priority, limit, eviction policy, store and
 * threshold rule. Parsed with inih; every error is "FILE:LINE: what". */
#ifndef USMD_CONFIG_H
#define USMD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

#include "pool.h"

/* One [process NAME] section, or [default]. */
struct usmd_rule {
	char name[USM_PROTO_NAME_MAX];     /* "" for [default] */
	uint32_t weight;                   /* 1..1000 */
	int32_t priority;                  /* -100..100 */
	uint64_t limit;                    /* 0 = none */
	char policy[USM_PROTO_POLICY_MAX]; /* "" = the process's own */
	char store[USM_PROTO_STORE_MAX];   /* "" = the process's own */
	int switch_above;                  /* percent of the pool, -1 = no threshold rule */
	char switch_policy[USM_PROTO_POLICY_MAX];
	unsigned keys; /* keys given, to refuse one given twice */
	int line;      /* of its [header] */
};

struct usmd_config {
	uint64_t pool_size; /* 0 = not given */
	enum pool_policy policy;
	struct usmd_rule defaults; /* [default], else the built-in defaults */
	struct usmd_rule *rules;
	size_t nrules;
};

/* The built-in config: no size, fair, every process weight 1, priority 0. */
void usmd_config_init(struct usmd_config *c);

/* Parses FILE into *c (initialised here). 0, or -1 with err set to
 * "FILE:LINE: what is wrong" (or "FILE: reason" when it cannot be read);
 * *c is then empty but may be freed. */
int usmd_config_load(const char *path, struct usmd_config *c, char *err, size_t errlen);

void usmd_config_free(struct usmd_config *c);

/* The rule for a process name: its section, else [default]. */
const struct usmd_rule *usmd_config_find(const struct usmd_config *c, const char *name);

#endif
