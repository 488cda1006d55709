#include <usm/size.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
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
