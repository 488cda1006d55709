/* The pager's figures walked by name: USM_PAGER_STAT_FIELDS (usm/stats.h)
 * as a table, and the merge of processes' figures that it defines. */
#include <usm/stats.h>

#define FIELD_(name, wire, merge, run_key) \
	{ #name, run_key, offsetof(struct usm_pager_stats, name), USM_STAT_##merge },
const struct usm_pager_stat_field usm_pager_stat_fields[] = { USM_PAGER_STAT_FIELDS(FIELD_) };
#undef FIELD_

const size_t usm_pager_stat_nfields = sizeof(usm_pager_stat_fields) / sizeof(usm_pager_stat_fields[0]);

void usm_pager_stats_merge(struct usm_pager_stats *total, const struct usm_pager_stats *one,
			   bool is_cmd)
{
	for (size_t i = 0; i < usm_pager_stat_nfields; i++) {
		const struct usm_pager_stat_field *f = &usm_pager_stat_fields[i];
		uint64_t *t = usm_pager_stat(total, f), v = usm_pager_stat_get(one, f);

		switch (f->merge) {
		case USM_STAT_SUM:
			*t += v;
			break;
		case USM_STAT_MAX:
			if (v > *t)
				*t = v;
			break;
		case USM_STAT_CMD:
			if (is_cmd || !*t)
				*t = v;
			break;
		case USM_STAT_NONE:
			break;
		}
	}
}
