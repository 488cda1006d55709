/* Stores: the spec string, dispatch to the kind, the max_bytes cap and the
 * statistics. The kinds themselves are store_tier.c (what "mem" names:
 * store_mem.c's compressed blocks, then a file), store_mem.c and
 * store_file.c. */
#include "store/store_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rawmem.h"

/* Keeps every kind's arithmetic (LZ4's int sizes, file offsets) far from
 * overflow; pages and huge pages are well below it. */
#define MAX_BLOCK_SIZE ((size_t)1 << 30)

static const struct {
	const char *spec; /* as typed; a trailing ':' takes an argument */
	const char *normalised;
	const struct usm_store_ops *ops;
} kinds[] = {
	{"mem", "mem:lz4", &usm_store_tier_lz4_ops},
	{"mem:lz4", "mem:lz4", &usm_store_tier_lz4_ops},
	{"mem:zstd", "mem:zstd", &usm_store_tier_zstd_ops},
	{"file:", "file:", &usm_store_file_ops},
	{"memcached:", "memcached:", &usm_store_memcached_ops},
};

/* "mem...+file:PATH": the memory kinds' second tier named */
#define SECOND_TIER "+file:"

/* Written by the one thread that opens a store, at start. */
static char open_error[320];
static char spec_problem[320];

void store_set_open_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(open_error, sizeof(open_error), fmt, ap);
	va_end(ap);
}

const char *usm_store_open_error(void)
{
	return open_error;
}

const char *usm_store_error(const struct usm_store *s)
{
	return s->error;
}

const char *usm_store_kinds(void)
{
	return "mem (same as mem:lz4), mem:lz4, mem:zstd, each optionally +file:PATH, file:PATH, "
	       "memcached:HOST:PORT[,HOST:PORT...][,replicas=N][,timeout=MS][,sasl=FILE]";
}

char *store_string_join(const char *prefix, const char *text, size_t *size)
{
	size_t prefix_len = strlen(prefix), text_len = text ? strlen(text) : 0;
	char *s;

	*size = prefix_len + text_len + 1;
	s = usm_rawmem_alloc(*size);
	if (!s)
		return NULL;
	memcpy(s, prefix, prefix_len);
	if (text_len)
		memcpy(s + prefix_len, text, text_len);
	s[prefix_len + text_len] = '\0';
	return s;
}

/* Finds the kind of spec and the argument after "kind:" (NULL for none). */
static int parse_spec(const char *spec, size_t *kind, const char **arg)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].spec);

		if (kinds[i].spec[n - 1] == ':') {
			if (strncmp(spec, kinds[i].spec, n) != 0 || spec[n] == '\0')
				continue;
			*arg = spec + n;
		} else if (strcmp(spec, kinds[i].spec) == 0) {
			*arg = NULL;
		} else if (strncmp(spec, kinds[i].spec, n) == 0 &&
			   strncmp(spec + n, SECOND_TIER, strlen(SECOND_TIER)) == 0 &&
			   spec[n + strlen(SECOND_TIER)] != '\0') {
			*arg = spec + n + strlen(SECOND_TIER);
		} else {
			continue;
		}
		*kind = i;
		return 0;
	}
	return -EINVAL;
}

const char *usm_store_spec_problem(const char *spec)
{
	size_t kind;
	const char *arg;

	spec_problem[0] = '\0';
	if (!spec || parse_spec(spec, &kind, &arg) != 0)
		snprintf(spec_problem, sizeof(spec_problem), "unknown store '%s' (one of: %s)",
			 spec ? spec : "", usm_store_kinds());
	else if (kinds[kind].ops->check)
		kinds[kind].ops->check(arg, spec_problem, sizeof(spec_problem));
	return spec_problem;
}

bool usm_store_spec_valid(const char *spec)
{
	return usm_store_spec_problem(spec)[0] == '\0';
}

int store_open_kind(const struct usm_store_ops *ops, const char *arg, const char *normalised,
		    size_t block_size, uint64_t max_bytes, struct usm_store **out)
{
	struct usm_store *s;
	int err = ops->open(arg, block_size, &s);

	if (err)
		return err;
	s->ops = ops;
	s->block_size = block_size;
	s->max_bytes = max_bytes;
	memset(&s->stats, 0, sizeof(s->stats));
	s->error[0] = '\0';
	s->spec = store_string_join(normalised, arg, &s->spec_size);
	if (!s->spec) {
		usm_store_close(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

#ifdef USM_FAULT_INJECTION
/* Test builds: USM_INJECT_STORE_READ_FAILURE=N makes the store's Nth block
 * read fail with EIO, and every read after it, as a disk that died would.
 * Returns whether this read is one of them. */
static bool injected_read_failure(struct usm_store *s, size_t blocks, size_t *failed)
{
	uint64_t first = s->reads + 1;

	s->reads += blocks;
	if (!s->fail_reads_from || s->reads < s->fail_reads_from)
		return false;
	*failed = s->fail_reads_from > first ? (size_t)(s->fail_reads_from - first) : 0;
	snprintf(s->error, sizeof(s->error), "a read failure injected by "
		 "USM_INJECT_STORE_READ_FAILURE");
	return true;
}

static void inject_from_env(struct usm_store *s)
{
	const char *n = getenv("USM_INJECT_STORE_READ_FAILURE");

	s->reads = 0;
	s->fail_reads_from = n ? strtoull(n, NULL, 10) : 0;
}
#else
static bool injected_read_failure(struct usm_store *s, size_t blocks, size_t *failed)
{
	return false;
}

static void inject_from_env(struct usm_store *s)
{
}
#endif

int usm_store_open(const char *spec, size_t block_size, uint64_t max_bytes, struct usm_store **out)
{
	char normalised[32];
	const char *arg;
	size_t kind;
	int err;

	if (!spec || block_size == 0 || block_size > MAX_BLOCK_SIZE)
		return -EINVAL;
	open_error[0] = '\0';
	err = parse_spec(spec, &kind, &arg);
	if (err)
		return err;
	/* an argument of a kind that takes none is the memory kinds' second
	 * tier ("memcached:" starts with "mem" too, and takes one) */
	snprintf(normalised, sizeof(normalised), "%s%s", kinds[kind].normalised,
		 arg && kinds[kind].spec[strlen(kinds[kind].spec) - 1] != ':' ? SECOND_TIER : "");
	err = store_open_kind(kinds[kind].ops, arg, normalised, block_size, max_bytes, out);
	if (!err)
		inject_from_env(*out);
	return err;
}

int usm_store_put(struct usm_store *s, const void *data, size_t len, uint64_t *handle)
{
	uint64_t used = s->stats.bytes_stored, room = UINT64_MAX, cost;
	int err;

	if (len > s->block_size)
		return -EINVAL;
	if (s->max_bytes)
		room = s->max_bytes > used ? s->max_bytes - used : 0;
	err = s->ops->put(s, data, len, room, handle, &cost);
	/* without a cap, memory is the limit: running out of it is being full */
	if (err == -ENOMEM)
		return -ENOSPC;
	if (err)
		return err;
	s->stats.puts++;
	s->stats.bytes_in += len;
	s->stats.bytes_stored += cost;
	s->stats.blocks_stored++;
	return 0;
}

int usm_store_get(struct usm_store *s, uint64_t handle, void *data, size_t len)
{
	size_t failed;

	if (injected_read_failure(s, 1, &failed))
		return -EIO;
	int err = s->ops->get(s, handle, data, len);

	if (err)
		return err;
	s->stats.gets++;
	s->stats.bytes_out += len;
	return 0;
}

int usm_store_put_batch(struct usm_store *s, struct usm_store_io *io, size_t n)
{
	uint64_t used = s->stats.bytes_stored, room = UINT64_MAX, cost = 0, in = 0;
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		if (io[i].len > s->block_size)
			return -EINVAL;
		in += io[i].len;
	}
	for (size_t i = 0; i < n; i++)
		io[i].handle = 0;
	if (!s->ops->put_batch) {
		for (size_t i = 0; i < n && !err; i++)
			err = usm_store_put(s, io[i].data, io[i].len, &io[i].handle);
		if (err)
			for (size_t i = 0; i < n; i++)
				usm_store_drop(s, io[i].handle);
		return err;
	}
	if (s->max_bytes)
		room = s->max_bytes > used ? s->max_bytes - used : 0;
	err = s->ops->put_batch(s, io, n, room, &cost);
	if (err == -ENOMEM)
		return -ENOSPC;
	if (err)
		return err;
	s->stats.puts += n;
	s->stats.bytes_in += in;
	s->stats.bytes_stored += cost;
	s->stats.blocks_stored += n;
	return 0;
}

int usm_store_get_batch(struct usm_store *s, struct usm_store_io *io, size_t n, size_t *failed)
{
	int err = 0;

	if (!s->ops->get_batch) {
		/* usm_store_get counts each block for injected failures */
		for (size_t i = 0; i < n; i++) {
			err = usm_store_get(s, io[i].handle, io[i].data, io[i].len);
			if (err) {
				*failed = i;
				return err;
			}
		}
		return 0;
	}
	if (injected_read_failure(s, n, failed))
		return -EIO;
	err = s->ops->get_batch(s, io, n, failed);
	if (err)
		return err;
	s->stats.gets += n;
	for (size_t i = 0; i < n; i++)
		s->stats.bytes_out += io[i].len;
	return 0;
}

void usm_store_sync(struct usm_store *s)
{
	if (s->ops->sync)
		s->ops->sync(s);
}

int usm_store_end(struct usm_store *s)
{
	return s->ops->end ? s->ops->end(s) : 0;
}

bool usm_store_outlives_process(const char *spec)
{
	size_t kind;
	const char *arg;

	return spec && parse_spec(spec, &kind, &arg) == 0 && kinds[kind].ops->end;
}

void usm_store_drop(struct usm_store *s, uint64_t handle)
{
	int64_t cost;

	if (handle == 0)
		return;
	cost = s->ops->drop(s, handle);
	if (cost < 0)
		return;
	s->stats.drops++;
	s->stats.bytes_stored -= (uint64_t)cost;
	s->stats.blocks_stored--;
}

void usm_store_stats(const struct usm_store *s, struct usm_store_stats *out)
{
	*out = s->stats;
	if (s->ops->split) {
		s->ops->split(s, out);
	} else if (s->ops->in_memory) {
		out->bytes_in_memory = s->stats.bytes_stored;
	} else {
		out->bytes_on_disk = s->stats.bytes_stored;
		out->blocks_on_disk = s->stats.blocks_stored;
		out->puts_to_disk = s->stats.puts;
	}
}

uint64_t usm_store_memory_bytes(const struct usm_store *s)
{
	struct usm_store_stats st;

	usm_store_stats(s, &st);
	return st.bytes_in_memory;
}

void usm_store_set_memory_cap(struct usm_store *s, uint64_t bytes)
{
	if (s->ops->set_memory_cap)
		s->ops->set_memory_cap(s, bytes);
}

const char *usm_store_describe(const struct usm_store *s)
{
	return s->spec;
}

const char *usm_store_key_prefix(const struct usm_store *s)
{
	return s->ops->key_prefix ? s->ops->key_prefix(s) : NULL;
}

void usm_store_close(struct usm_store *s)
{
	if (!s)
		return;
	usm_rawmem_free(s->spec, s->spec_size);
	s->ops->close(s);
}
