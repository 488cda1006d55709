/* usmd's config file, parsed with inih (see config.h, docs/usmd.md).
 *
 * inih calls us once per key and reports its own syntax errors only as a
 * line number, and it never tells us about a [section] line. So inih reads
 * through our line reader, which counts lines and sees each section header
 * as it passes: an unknown, empty or repeated section is reported at its own
 * line, and every key's handler knows the line it is on. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include "policy/policy.h"
#include <usm/size.h>
#include "store/store.h"

#include "base/page.h"

enum section { SEC_NONE, SEC_POOL, SEC_DEFAULT, SEC_PROCESS, SEC_BAD };

enum key {
	KEY_SIZE = 1u << 0,
	KEY_POOL_POLICY = 1u << 1,
	KEY_WEIGHT = 1u << 2,
	KEY_PRIORITY = 1u << 3,
	KEY_LIMIT = 1u << 4,
	KEY_POLICY = 1u << 5,
	KEY_STORE = 1u << 6,
	KEY_SWITCH_ABOVE = 1u << 7,
	KEY_SWITCH_POLICY = 1u << 8,
};

struct parse {
	const char *path;
	FILE *f;
	int line;
	struct usmd_config *c;
	enum section section;
	struct usmd_rule *rule; /* the [default] or [process] being read */
	unsigned pool_keys;
	int pool_line, default_line;
	bool key_in_section; /* inih continues a key's value on an indented line */
	int err_line;        /* of the first error, 0 = none */
	char err[256];
};

static void fail(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->err_line)
		return; /* the first error is the one reported */
	ps->err_line = ps->line;
	va_start(ap, fmt);
	vsnprintf(ps->err, sizeof(ps->err), fmt, ap);
	va_end(ap);
}

static void rule_init(struct usmd_rule *r, const char *name, int line)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->weight = 1;
	r->switch_above = -1;
	r->line = line;
}

void usmd_config_init(struct usmd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->policy = POOL_FAIR;
	rule_init(&c->defaults, "", 0);
}

void usmd_config_free(struct usmd_config *c)
{
	free(c->rules);
	c->rules = NULL;
	c->nrules = 0;
}

const struct usmd_rule *usmd_config_find(const struct usmd_config *c, const char *name)
{
	for (size_t i = 0; i < c->nrules; i++)
		if (!strcmp(c->rules[i].name, name))
			return &c->rules[i];
	return &c->defaults;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static void begin_section(struct parse *ps, char *name)
{
	ps->rule = NULL;
	ps->key_in_section = false;
	ps->section = SEC_BAD;
	if (!strcmp(name, "pool")) {
		if (ps->pool_line) {
			fail(ps, "[pool] given twice (first at line %d)", ps->pool_line);
			return;
		}
		ps->pool_line = ps->line;
		ps->section = SEC_POOL;
	} else if (!strcmp(name, "default")) {
		if (ps->default_line) {
			fail(ps, "[default] given twice (first at line %d)", ps->default_line);
			return;
		}
		ps->default_line = ps->line;
		ps->section = SEC_DEFAULT;
		ps->rule = &ps->c->defaults;
		rule_init(ps->rule, "", ps->line);
	} else if (!strncmp(name, "process", 7) && (!name[7] || isspace((unsigned char)name[7]))) {
		char *proc = trim(name + 7);
		struct usmd_rule *rules;

		if (!*proc) {
			fail(ps, "[process] needs a process name: [process NAME]");
			return;
		}
		if (strlen(proc) >= USM_PROTO_NAME_MAX) {
			fail(ps,
			     "process name '%s' is longer than %d characters (the most "
			     "/proc/PID/comm holds)",
			     proc, USM_PROTO_NAME_MAX - 1);
			return;
		}
		for (size_t i = 0; i < ps->c->nrules; i++)
			if (!strcmp(ps->c->rules[i].name, proc)) {
				fail(ps, "[process %s] given twice (first at line %d)", proc,
				     ps->c->rules[i].line);
				return;
			}
		rules = realloc(ps->c->rules, (ps->c->nrules + 1) * sizeof(*rules));
		if (!rules) {
			fail(ps, "out of memory");
			return;
		}
		ps->c->rules = rules;
		ps->rule = &rules[ps->c->nrules++];
		rule_init(ps->rule, proc, ps->line);
		ps->section = SEC_PROCESS;
	} else {
		fail(ps, "unknown section [%s] (expected [pool], [default] or [process NAME])",
		     name);
	}
}

/* Sees each line before inih does: counts it, refuses what inih would
 * silently cut or continue, and follows the [section] headers. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	size_t len;
	char *s;

	if (!fgets(str, num, ps->f))
		return NULL;
	ps->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n') {
		int ch = fgetc(ps->f);
		if (ch != '\n' && ch != EOF) {
			while (ch != '\n' && ch != EOF)
				ch = fgetc(ps->f);
			fail(ps, "line longer than %d characters", num - 3);
			str[0] = '\0';
			return str;
		}
	}
	s = str;
	if (ps->line == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == ';' || *s == '#')
		return str;
	if (s > str && ps->key_in_section) {
		fail(ps, "indented line: a value cannot continue on the next line");
		str[0] = '\0';
		return str;
	}
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (end) {
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)(end - s - 1), s + 1);
			begin_section(ps, name);
		}
	}
	return str;
}

static bool parse_int(const char *value, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || isspace((unsigned char)*value) || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* True when name is one of usm_policy_kinds()'s comma-separated list. */
static bool known_eviction_policy(const char *name)
{
	const char *p = usm_policy_kinds();
	size_t n = strlen(name);

	while (*p) {
		size_t len = strcspn(p, ",");
		if (len == n && !strncmp(p, name, n) && n)
			return true;
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return false;
}

static bool take_key(struct parse *ps, unsigned *keys, unsigned key, const char *name,
                     const char *section)
{
	if (*keys & key) {
		fail(ps, "'%s' given twice in [%s]", name, section);
		return false;
	}
	*keys |= key;
	return true;
}

static int pool_key(struct parse *ps, const char *name, const char *value)
{
	struct usmd_config *c = ps->c;

	if (!strcmp(name, "size")) {
		uint64_t size;
		if (!take_key(ps, &ps->pool_keys, KEY_SIZE, name, "pool"))
			return 0;
		if (usm_parse_size(value, &size) < 0) {
			fail(ps, "size = '%s': not a size (e.g. 512M, 2G)", value);
			return 0;
		}
		if (size < USM_PAGE_SIZE) {
			fail(ps, "size = '%s': the pool needs at least 4K", value);
			return 0;
		}
		c->pool_size = usm_page_down(size);
	} else if (!strcmp(name, "policy")) {
		if (!take_key(ps, &ps->pool_keys, KEY_POOL_POLICY, name, "pool"))
			return 0;
		if (pool_policy_parse(value, &c->policy) < 0) {
			fail(ps, "policy = '%s': expected fair or priority", value);
			return 0;
		}
	} else {
		fail(ps, "unknown key '%s' in [pool] (expected size, policy)", name);
		return 0;
	}
	return 1;
}

static int rule_key(struct parse *ps, const char *section, const char *name, const char *value)
{
	struct usmd_rule *r = ps->rule;
	long v;

#define KEY(k) take_key(ps, &r->keys, k, name, section)
	if (!strcmp(name, "weight")) {
		if (!KEY(KEY_WEIGHT))
			return 0;
		if (!parse_int(value, 1, 1000, &v)) {
			fail(ps, "weight = '%s': expected a whole number from 1 to 1000", value);
			return 0;
		}
		r->weight = (uint32_t)v;
	} else if (!strcmp(name, "priority")) {
		if (!KEY(KEY_PRIORITY))
			return 0;
		if (!parse_int(value, -100, 100, &v)) {
			fail(ps, "priority = '%s': expected a whole number from -100 to 100",
			     value);
			return 0;
		}
		r->priority = (int32_t)v;
	} else if (!strcmp(name, "limit")) {
		uint64_t limit;
		if (!KEY(KEY_LIMIT))
			return 0;
		if (usm_parse_size(value, &limit) < 0 || (limit && limit < USM_PAGE_SIZE)) {
			fail(ps,
			     "limit = '%s': expected a size of at least 4K (e.g. 64M), or 0 for "
			     "none",
			     value);
			return 0;
		}
		r->limit = usm_page_down(limit);
	} else if (!strcmp(name, "policy") || !strcmp(name, "switch_policy")) {
		bool sw = name[0] == 's';
		if (!KEY(sw ? KEY_SWITCH_POLICY : KEY_POLICY))
			return 0;
		if (!known_eviction_policy(value)) {
			fail(ps, "%s = '%s': expected one of %s", name, value, usm_policy_kinds());
			return 0;
		}
		snprintf(sw ? r->switch_policy : r->policy, USM_PROTO_POLICY_MAX, "%s", value);
	} else if (!strcmp(name, "store")) {
		if (!KEY(KEY_STORE))
			return 0;
		if (strlen(value) >= USM_PROTO_STORE_MAX) {
			fail(ps, "store = '%s': longer than %d bytes", value, USM_PROTO_STORE_MAX - 1);
			return 0;
		}
		if (!usm_store_spec_valid(value)) {
			fail(ps, "store = '%s': %s", value, usm_store_spec_problem(value));
			return 0;
		}
		snprintf(r->store, sizeof(r->store), "%s", value);
	} else if (!strcmp(name, "switch_above")) {
		char text[16];
		size_t n = strlen(value);
		if (!KEY(KEY_SWITCH_ABOVE))
			return 0;
		/* "80" or "80%" */
		snprintf(text, sizeof(text), "%.*s", (int)(n && value[n - 1] == '%' ? n - 1 : n),
		         value);
		if (n >= sizeof(text) || !parse_int(text, 0, 100, &v)) {
			fail(ps, "switch_above = '%s': expected a percentage from 0 to 100", value);
			return 0;
		}
		r->switch_above = (int)v;
	} else {
		fail(ps,
		     "unknown key '%s' in [%s] (expected weight, priority, limit, policy, store, "
		     "switch_above, switch_policy)",
		     name, section);
		return 0;
	}
#undef KEY
	return 1;
}

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;

	ps->key_in_section = true;
	switch (ps->section) {
	case SEC_NONE:
		fail(ps,
		     "'%s' is outside any section (start with [pool], [default] or [process NAME])",
		     name);
		return 0;
	case SEC_BAD:
		return 0; /* its header was reported */
	case SEC_POOL:
		return pool_key(ps, name, value);
	case SEC_DEFAULT:
	case SEC_PROCESS:
		return rule_key(ps, section, name, value);
	}
	return 0;
}

/* Keys that only make sense together, checked once a rule is whole. */
static void check_rule(struct parse *ps, const struct usmd_rule *r)
{
	char section[64];

	if (r->name[0])
		snprintf(section, sizeof(section), "[process %s]", r->name);
	else
		snprintf(section, sizeof(section), "[default]");
	ps->line = r->line;
	if ((r->keys & KEY_SWITCH_ABOVE) && !(r->keys & KEY_SWITCH_POLICY))
		fail(ps, "%s: switch_above needs switch_policy", section);
	else if ((r->keys & KEY_SWITCH_POLICY) && !(r->keys & KEY_SWITCH_ABOVE))
		fail(ps, "%s: switch_policy needs switch_above", section);
}

int usmd_config_load(const char *path, struct usmd_config *c, char *err, size_t errlen)
{
	struct parse ps = {.path = path, .c = c};
	int rc;

	usmd_config_init(c);
	ps.f = fopen(path, "re");
	if (!ps.f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(read_line, &ps, handle_key, &ps);
	if (!rc && ferror(ps.f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(EIO));
		fclose(ps.f);
		usmd_config_free(c);
		return -1;
	}
	fclose(ps.f);
	if (rc > 0 && (!ps.err_line || rc < ps.err_line)) {
		/* inih's own complaint: a line that is no header, key or comment */
		ps.err_line = rc;
		snprintf(ps.err, sizeof(ps.err),
		         "syntax error (expected [section], key = value, or a ; comment)");
	} else if (rc < 0 && !ps.err_line) {
		ps.err_line = 1;
		snprintf(ps.err, sizeof(ps.err), "cannot be parsed");
	}
	if (!ps.err_line) {
		/* in the order of the file, so that the first is reported */
		bool defaults_done = !ps.default_line;
		for (size_t i = 0; i <= c->nrules && !ps.err_line; i++) {
			if (!defaults_done &&
			    (i == c->nrules || ps.default_line < c->rules[i].line)) {
				check_rule(&ps, &c->defaults);
				defaults_done = true;
			}
			if (i < c->nrules)
				check_rule(&ps, &c->rules[i]);
		}
	}
	if (ps.err_line) {
		snprintf(err, errlen, "%s:%d: %s", path, ps.err_line, ps.err);
		usmd_config_free(c);
		usmd_config_init(c);
		return -1;
	}
	return 0;
}
