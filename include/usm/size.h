/* Values as users write them on command lines: sizes ("4096", "64K", "1G"),
 * counts, process ids, address ranges and seconds; and the short forms tools print. */
#ifndef USM_SIZE_H
#define USM_SIZE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Parses a decimal byte count with an optional binary suffix K, M, G or T
 * (case-insensitive, an optional trailing "iB" or "B" is accepted).
 * Returns 0, -EINVAL for malformed text, -ERANGE on overflow. */
int usm_parse_size(const char *text, uint64_t *bytes);

/* Writes a short human form ("64.0M", "512B") into buf; returns buf. */
char *usm_format_size(uint64_t bytes, char *buf, size_t len);

/* A whole number of decimal digits only (no sign, no space), 0 to max.
 * Returns 0, -EINVAL for malformed text, -ERANGE above max. */
int usm_parse_count(const char *text, uint64_t max, uint64_t *out);

/* A process id: decimal digits only, 1 to INT_MAX (also how /proc names
 * a process's directory). Returns 0, -EINVAL or -ERANGE. */
int usm_parse_pid(const char *text, pid_t *pid);

/* An address range as /proc/PID/maps writes one: two hexadecimal numbers
 * (an optional 0x each) joined by '-', start < end. Returns 0 or -EINVAL. */
int usm_parse_addr_range(const char *text, uint64_t *start, uint64_t *end);

/* Seconds, a fraction allowed ("0.5", "2"): more than 0, at most max.
 * Returns 0, -EINVAL for malformed text, -ERANGE outside (0, max]. */
int usm_parse_seconds(const char *text, double max, double *seconds);

/* Writes a duration short ("850ns", "12.3us", "4.56ms", "2.0s") with
 * decimals digits after the point above a microsecond; returns buf. */
char *usm_format_ns(uint64_t ns, int decimals, char *buf, size_t len);

#endif
