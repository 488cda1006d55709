/* The CAPMAP reader. Strict: every field is checked against the grammar
 * in docs/capmap.md, so a corrupt or truncated file is one clear error
 * ("line N: ...") and never a wrong report. The writer ends every line
 * with a newline; a last line without one means the file was cut.
 * usm_capmap_scan hands over one object (with its access lines) at a time,
 * so that a reader that sums can read a file of any size in bounded
 * memory; usm_capmap_read keeps them all. */
#include <usm/capmap.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"

/* usm trace's, then the kernel's (Memorizer's kmap, kernel/memorizer/). */
static const char *const allocators[] = {"malloc",  "calloc", "realloc",    "memalign",
                                         "mmap",    "global", "kmalloc",    "kmem_cache",
                                         "page",    "vmalloc"};

struct parser {
	struct usm_capmap_obj cur; /* the object whose access lines are being read */
	bool have_cur, seen_object;
	struct usm_capmap_header *hdr;
	struct usm_capmap_access *acc; /* its access lines */
	size_t nacc, cap_acc;
	usm_capmap_fn fn;
	void *ctx;
	unsigned long lineno;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, const char *what, const char *field)
{
	if (field)
		snprintf(p->err, p->errlen, "line %lu: %s '%.40s'", p->lineno, what, field);
	else
		snprintf(p->err, p->errlen, "line %lu: %s", p->lineno, what);
	return -EINVAL;
}

static bool parse_u64(const char *s, int base, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > (base == 16 ? 16 : 20))
		return false;
	for (; *s; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			return false;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*out = v;
	return true;
}

static bool parse_tid(const char *s, int *out)
{
	uint64_t v;

	if (!parse_u64(s, 10, &v) || v > 0x7fffffff)
		return false;
	*out = (int)v;
	return true;
}

/* Splits line at commas into at most max fields; returns how many. */
static int split(char *line, char **fields, int max)
{
	int n = 0;

	fields[n++] = line;
	for (char *c = line; *c; c++) {
		if (*c != ',')
			continue;
		if (n == max)
			return max + 1;
		*c = 0;
		fields[n++] = c + 1;
	}
	return n;
}

static int grow(void **arr, size_t *cap, size_t n, size_t item)
{
	return usm_grow(arr, cap, n, item, 256);
}

static int object_line(struct parser *p, char *line)
{
	char *f[10];
	struct usm_capmap_obj o;
	size_t i;

	memset(&o, 0, sizeof(o));
	if (split(line, f, 10) != 10)
		return fail(p, "an object line has 10 comma-separated fields", NULL);
	if (!parse_u64(f[0], 16, &o.alloc_ip))
		return fail(p, "bad alloc_ip", f[0]);
	if (!parse_tid(f[1], &o.pid))
		return fail(p, "bad pid", f[1]);
	if (!parse_u64(f[2], 16, &o.va))
		return fail(p, "bad va", f[2]);
	if (!parse_u64(f[3], 10, &o.size))
		return fail(p, "bad size", f[3]);
	if (!parse_u64(f[4], 10, &o.alloc_time))
		return fail(p, "bad alloc_time", f[4]);
	if (!parse_u64(f[5], 10, &o.free_time))
		return fail(p, "bad free_time", f[5]);
	if (!parse_u64(f[6], 16, &o.free_ip))
		return fail(p, "bad free_ip", f[6]);
	for (i = 0; i < sizeof(allocators) / sizeof(allocators[0]); i++)
		if (!strcmp(f[7], allocators[i]))
			break;
	if (i == sizeof(allocators) / sizeof(allocators[0]))
		return fail(p, "unknown allocator", f[7]);
	strcpy(o.allocator, allocators[i]);
	if (!*f[8] || strlen(f[8]) >= sizeof(o.process))
		return fail(p, "bad process name", f[8]);
	strcpy(o.process, f[8]);
	if (strcmp(f[9], "-") && (!parse_u64(f[9], 10, &o.cache) || o.cache == 0))
		return fail(p, "bad cache", f[9]);
	p->cur = o;
	p->have_cur = true;
	p->nacc = 0;
	return 0;
}

/* Hands the object read so far, with its access lines, to the callback. */
static int flush(struct parser *p)
{
	if (!p->have_cur)
		return 0;
	p->have_cur = false;
	p->cur.first_access = 0;
	p->cur.naccesses = p->nacc;
	return p->fn(p->ctx, &p->cur, p->acc);
}

static int access_line(struct parser *p, char *line)
{
	char *f[4];
	struct usm_capmap_access a;

	if (!p->have_cur)
		return fail(p, "an access line comes before any object line", NULL);
	if (split(line, f, 4) != 4)
		return fail(p, "an access line has 4 comma-separated fields", NULL);
	if (!parse_u64(f[0], 16, &a.ip))
		return fail(p, "bad access_ip", f[0]);
	if (!parse_u64(f[1], 10, &a.writes))
		return fail(p, "bad writes", f[1]);
	if (!parse_u64(f[2], 10, &a.reads))
		return fail(p, "bad reads", f[2]);
	if (!parse_tid(f[3], &a.tid))
		return fail(p, "bad tid", f[3]);
	if (grow((void **)&p->acc, &p->cap_acc, p->nacc, sizeof(a)) < 0)
		return -ENOMEM;
	p->acc[p->nacc++] = a;
	return 0;
}

/* "# key=value" before the first object line. */
static int header_line(struct parser *p, char *line)
{
	struct usm_capmap_stat st;
	char *eq = strchr(line, '=');
	size_t klen;

	if (p->seen_object)
		return fail(p, "a header line after an object line", NULL);
	if (line[0] != ' ' || !eq)
		return fail(p, "a header line is '# key=value'", NULL);
	line++;
	klen = (size_t)(eq - line);
	if (!klen || klen >= sizeof(st.key) || strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_") != klen)
		return fail(p, "bad header key", line);
	memcpy(st.key, line, klen);
	st.key[klen] = 0;
	if (!parse_u64(eq + 1, 10, &st.value))
		return fail(p, "bad header value", eq + 1);
	if (!p->hdr)
		return 0;
	if (usm_capmap_header_get(p->hdr, st.key, NULL))
		return fail(p, "a header key given twice", st.key);
	if (p->hdr->nstats == USM_CAPMAP_MAX_STATS)
		return fail(p, "more header lines than a reader keeps", NULL);
	p->hdr->stats[p->hdr->nstats++] = st;
	return 0;
}

bool usm_capmap_header_get(const struct usm_capmap_header *h, const char *key, uint64_t *value)
{
	for (size_t i = 0; i < h->nstats; i++) {
		if (!strcmp(h->stats[i].key, key)) {
			if (value)
				*value = h->stats[i].value;
			return true;
		}
	}
	return false;
}

int usm_capmap_scan(FILE *f, struct usm_capmap_header *hdr, usm_capmap_fn fn, void *ctx,
                    char *err, size_t errlen)
{
	struct parser p = {.fn = fn, .ctx = ctx, .err = err, .errlen = errlen, .hdr = hdr};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	if (errlen)
		err[0] = 0;
	if (hdr)
		memset(hdr, 0, sizeof(*hdr));
	errno = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		p.lineno++;
		if (line[n - 1] != '\n') {
			ret = fail(&p, "truncated: the last line has no end", NULL);
			break;
		}
		line[--n] = 0;
		if (memchr(line, 0, (size_t)n)) {
			ret = fail(&p, "a NUL byte: this is not a CAPMAP", NULL);
			break;
		}
		if (line[0] == ' ') {
			ret = line[1] == ' ' && line[2] != ' ' ? access_line(&p, line + 2)
			                                       : fail(&p, "bad indentation", NULL);
		} else if (line[0] == '#') {
			ret = header_line(&p, line + 1);
		} else {
			p.seen_object = true;
			ret = flush(&p);
			if (!ret)
				ret = object_line(&p, line);
		}
		if (ret < 0)
			break;
	}
	if (!ret && ferror(f))
		ret = errno ? -errno : -EIO;
	if (!ret)
		ret = flush(&p);
	free(line);
	free(p.acc);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory at line %lu", p.lineno);
	else if (ret < 0 && errlen && !err[0])
		snprintf(err, errlen, "stopped at line %lu", p.lineno);
	return ret;
}

struct collect {
	struct usm_capmap map;
	size_t cap_objs, cap_acc;
};

static int collect_obj(void *ctx, const struct usm_capmap_obj *obj,
                       const struct usm_capmap_access *acc)
{
	struct collect *c = ctx;
	struct usm_capmap_obj o = *obj;

	if (grow((void **)&c->map.objs, &c->cap_objs, c->map.nobjs, sizeof(o)) < 0)
		return -ENOMEM;
	o.first_access = c->map.naccesses;
	for (size_t i = 0; i < obj->naccesses; i++) {
		if (grow((void **)&c->map.accesses, &c->cap_acc, c->map.naccesses, sizeof(*acc)) <
		    0)
			return -ENOMEM;
		c->map.accesses[c->map.naccesses++] = acc[i];
	}
	c->map.objs[c->map.nobjs++] = o;
	return 0;
}

int usm_capmap_read(FILE *f, struct usm_capmap *out, char *err, size_t errlen)
{
	struct collect c;
	int ret;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	ret = usm_capmap_scan(f, &c.map.header, collect_obj, &c, err, errlen);
	if (ret < 0) {
		usm_capmap_free(&c.map);
		return ret;
	}
	*out = c.map;
	return 0;
}

void usm_capmap_free(struct usm_capmap *map)
{
	free(map->objs);
	free(map->accesses);
	memset(map, 0, sizeof(*map));
}
