/* Stores: the spec string, dispatch to the kind, the max_bytes cap and the
 * statistics. The kinds themselves are store_tier.c (what "mem" names:
 * store_mem.c's compressed blocks, then a file), store_mem.c and
 * store_file.c. */
#include "store/store_impl.h"

#include <errno.h>
#include <stdio.h>
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
};

/* "mem...+file:PATH": the memory kinds' second tier named */
#define SECOND_TIER "+file:"

const char *usm_store_kinds(void)
{
	return "mem (same as mem:lz4), mem:lz4, mem:zstd, each optionally +file:PATH, file:PATH";
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

bool usm_store_spec_valid(const char *spec)
{
	size_t kind;
	const char *arg;

	return spec && parse_spec(spec, &kind, &arg) == 0;
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
	s->spec = store_string_join(normalised, arg, &s->spec_size);
	if (!s->spec) {
		usm_store_close(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

int usm_store_open(const char *spec, size_t block_size, uint64_t max_bytes, struct usm_store **out)
{
	char normalised[32];
	const char *arg;
	size_t kind;
	int err;

	if (!spec || block_size == 0 || block_size > MAX_BLOCK_SIZE)
		return -EINVAL;
	err = parse_spec(spec, &kind, &arg);
	if (err)
		return err;
	snprintf(normalised, sizeof(normalised), "%s%s", kinds[kind].normalised,
		 arg && kinds[kind].ops != &usm_store_file_ops ? SECOND_TIER : "");
	return store_open_kind(kinds[kind].ops, arg, normalised, block_size, max_bytes, out);
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
	int err = s->ops->get(s, handle, data, len);

	if (err)
		return err;
	s->stats.gets++;
	s->stats.bytes_out += len;
	return 0;
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

void usm_store_close(struct usm_store *s)
{
	if (!s)
		return;
	usm_rawmem_free(s->spec, s->spec_size);
	s->ops->close(s);
}
