/* Fault-service latency as a log-linear histogram: 8 buckets per power of
 * two of nanoseconds, so percentiles are within 12.5% with no allocation. */
#include "pager/pager_impl.h"

static unsigned bucket_of(uint64_t ns)
{
	if (ns < 8)
		return (unsigned)ns;
	unsigned log = 63 - (unsigned)__builtin_clzll(ns);      /* >= 3 */
	unsigned sub = (unsigned)(ns >> (log - 3)) & 7;         /* next 3 bits */
	unsigned b = (log - 2) * 8 + sub;
	return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

static uint64_t bucket_floor(unsigned b)
{
	if (b < 8)
		return b;
	unsigned log = b / 8 + 2, sub = b % 8;
	return ((uint64_t)(8 + sub)) << (log - 3);
}

void latency_record(struct usm_pager *p, uint64_t ns)
{
	p->lat_hist[bucket_of(ns)]++;
}

uint64_t latency_percentile(const struct usm_pager *p, double pct)
{
	uint64_t total = 0, seen = 0;

	for (unsigned b = 0; b < LAT_BUCKETS; b++)
		total += p->lat_hist[b];
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)(pct / 100.0 * (double)total);
	if (rank >= total)
		rank = total - 1;
	for (unsigned b = 0; b < LAT_BUCKETS; b++) {
		seen += p->lat_hist[b];
		if (seen > rank)
			return bucket_floor(b);
	}
	return 0;
}
