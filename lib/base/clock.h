/* The one monotonic clock of usm (as Redis keeps src/monotonic.h): header
 * only, so that the preloaded runtimes use it without linking libusm. */
#ifndef USM_BASE_CLOCK_H
#define USM_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t usm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t usm_now_ms(void)
{
	return usm_now_ns() / 1000000ULL;
}

#endif
