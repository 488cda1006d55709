/* /proc/kallsyms as a sorted table (kallsyms.h). Only text symbols count:
 * allocation sites are return addresses into code. One read, names kept
 * in one block, so that the 200 000 lines of a distribution kernel cost
 * a few allocations. */
#include "os/kallsyms.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool is_text(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

static int by_addr(const void *a, const void *b)
{
	const struct usm_os_ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Appends s (n bytes) with its NUL to the string block; returns its offset. */
static int add_string(char **blk, size_t *len, size_t *cap, const char *s, size_t n, size_t *off)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 1 << 20;
		char *b;

		while (ncap < *len + n + 1)
			ncap *= 2;
		b = realloc(*blk, ncap);
		if (!b)
			return -ENOMEM;
		*blk = b;
		*cap = ncap;
	}
	memcpy(*blk + *len, s, n);
	(*blk)[*len + n] = 0;
	*off = *len;
	*len += n + 1;
	return 0;
}

int usm_os_kallsyms_load(const char *path, struct usm_os_kallsyms *k)
{
	/* names and modules are offsets into the block until it stops moving */
	struct raw {
		uint64_t addr;
		size_t name, module; /* module SIZE_MAX: none */
		char type;
	} *raw = NULL;
	size_t n = 0, cap = 0, slen = 0, scap = 0;
	char *strings = NULL, *line = NULL;
	size_t lcap = 0;
	bool any_addr = false;
	int err = 0;
	FILE *f = fopen(path, "re");

	memset(k, 0, sizeof(*k));
	if (!f)
		return -errno;
	while (getline(&line, &lcap, f) > 0) {
		char type, *name, *end, *mod;
		uint64_t addr = strtoull(line, &end, 16);
		size_t nlen;

		if (end == line || end[0] != ' ' || !end[1] || end[2] != ' ')
			continue;
		type = end[1];
		if (!is_text(type))
			continue;
		name = end + 3;
		nlen = strcspn(name, "\t \n");
		mod = name + nlen;
		if (addr)
			any_addr = true;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			struct raw *r = realloc(raw, ncap * sizeof(*r));

			if (!r) {
				err = -ENOMEM;
				break;
			}
			raw = r;
			cap = ncap;
		}
		raw[n] = (struct raw){ .addr = addr, .type = type, .module = SIZE_MAX };
		err = add_string(&strings, &slen, &scap, name, nlen, &raw[n].name);
		if (!err && (mod = strchr(mod, '[')) != NULL) {
			size_t mlen = strcspn(mod + 1, "]\n");

			err = add_string(&strings, &slen, &scap, mod + 1, mlen, &raw[n].module);
		}
		if (err)
			break;
		n++;
	}
	if (!err && ferror(f))
		err = -EIO;
	fclose(f);
	free(line);
	if (!err && n && !any_addr)
		err = -EPERM;
	if (!err && n) {
		k->syms = malloc(n * sizeof(*k->syms));
		if (!k->syms)
			err = -ENOMEM;
	}
	if (err) {
		free(raw);
		free(strings);
		memset(k, 0, sizeof(*k));
		return err;
	}
	for (size_t i = 0; i < n; i++)
		k->syms[i] = (struct usm_os_ksym){
			.addr = raw[i].addr,
			.name = strings + raw[i].name,
			.module = raw[i].module == SIZE_MAX ? NULL : strings + raw[i].module,
			.type = raw[i].type,
		};
	free(raw);
	k->n = n;
	k->strings = strings;
	if (n)
		qsort(k->syms, n, sizeof(*k->syms), by_addr);
	return 0;
}

void usm_os_kallsyms_free(struct usm_os_kallsyms *k)
{
	free(k->syms);
	free(k->strings);
	memset(k, 0, sizeof(*k));
}

long usm_os_kallsyms_find(const struct usm_os_kallsyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;

	/* the first symbol above addr is at lo */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the last symbol has no end: an address past it is nowhere known */
	if (lo == 0 || lo == k->n)
		return -1;
	return (long)lo - 1;
}

static int write_one(const struct usm_os_ksym *s, FILE *out)
{
	if (s->module)
		return fprintf(out, "%016" PRIx64 " %c %s\t[%s]\n", s->addr, s->type, s->name,
			       s->module) < 0 ? -EIO : 0;
	return fprintf(out, "%016" PRIx64 " %c %s\n", s->addr, s->type, s->name) < 0 ? -EIO : 0;
}

int usm_os_kallsyms_write(const struct usm_os_kallsyms *k, size_t i, FILE *out)
{
	int err = write_one(&k->syms[i], out);

	if (!err && i + 1 < k->n)
		err = write_one(&k->syms[i + 1], out);
	return err;
}
