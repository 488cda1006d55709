/* The command-line values every tool parses (sizes, counts, pids,
 * seconds) and their printed forms: one parser each, so usm and usmd agree. */
#include <usm/size.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int usm_parse_size(const char *text, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	const char *p = text;
	uint64_t value = 0;
	unsigned shift = 0;

	if (!text || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		value = value * 10 + digit;
	}
	if (*p) {
		for (unsigned i = 0; units[i]; i++)
			if (toupper((unsigned char)*p) == units[i])
				shift = 10 * (i + 1);
		if (!shift)
			return -EINVAL;
		p++;
		if (!strcasecmp(p, "iB") || !strcasecmp(p, "B"))
			p += strlen(p);
		if (*p)
			return -EINVAL;
	}
	if (shift && value > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = value << shift;
	return 0;
}

char *usm_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	double v = (double)bytes;
	unsigned i = 0;

	while (v >= 1024 && units[i + 1]) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f%c", v, units[i]);
	return buf;
}

/* Hexadecimal digits (after an optional 0x) up to the first character that
 * is not one; NULL when there are none or the value overflows. */
static const char *parse_hex(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	const char *digits;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (digits = p; isxdigit((unsigned char)*p); p++) {
		unsigned digit = isdigit((unsigned char)*p) ? (unsigned)(*p - '0')
							    : (unsigned)(tolower(*p) - 'a' + 10);

		if (v > (UINT64_MAX >> 4))
			return NULL;
		v = v << 4 | digit;
	}
	if (p == digits)
		return NULL;
	*out = v;
	return p;
}

int usm_parse_addr_range(const char *text, uint64_t *start, uint64_t *end)
{
	uint64_t a, b;
	const char *p = text ? parse_hex(text, &a) : NULL;

	if (!p || *p != '-' || !(p = parse_hex(p + 1, &b)) || *p || a >= b)
		return -EINVAL;
	*start = a;
	*end = b;
	return 0;
}

int usm_parse_count(const char *text, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!text || !*text)
		return -EINVAL;
	for (const char *p = text; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
	for (const char *p = text; *p; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		v = v * 10 + digit;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int usm_parse_pid(const char *text, pid_t *pid)
{
	uint64_t v;
	int rc = usm_parse_count(text, INT_MAX, &v);

	if (rc < 0)
		return rc;
	if (v == 0)
		return -ERANGE;
	*pid = (pid_t)v;
	return 0;
}

int usm_parse_seconds(const char *text, double max, double *seconds)
{
	char *end;
	double v;

	if (!text || !*text)
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || end == text || *end || !isfinite(v))
		return -EINVAL;
	if (v <= 0 || v > max)
		return -ERANGE;
	*seconds = v;
	return 0;
}

char *usm_format_ns(uint64_t ns, int decimals, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.*fus", decimals, (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.*fms", decimals, (double)ns / 1e6);
	else
		snprintf(buf, len, "%.*fs", decimals, (double)ns / 1e9);
	return buf;
}
