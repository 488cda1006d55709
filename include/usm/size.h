/* Sizes as users write them on command lines: "4096", "64K", "64M", "1G". */
#ifndef USM_SIZE_H
#define USM_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parses a decimal byte count with an optional binary suffix K, M, G or T
 * (case-insensitive, an optional trailing "iB" or "B" is accepted).
 * Returns 0, -EINVAL for malformed text, -ERANGE on overflow. */
int usm_parse_size(const char *text, uint64_t *bytes);

/* Writes a short human form ("64.0M", "512B") into buf; returns buf. */
char *usm_format_size(uint64_t bytes, char *buf, size_t len);

#endif
