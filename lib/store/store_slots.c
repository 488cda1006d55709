/* The slot table of the stores: handle -> per-block record, with a free
 * list threaded through the free records so that it needs no memory of its
 * own. See lib/store_impl.h. */
#include "store/store_impl.h"

#include <errno.h>
#include <string.h>

#include "base/rawmem.h"

#define FIRST_CAPACITY 64

static struct store_slot *record_at(const struct store_slots *t, size_t index)
{
	return (struct store_slot *)(t->records + index * t->record_size);
}

void store_slots_init(struct store_slots *t, size_t record_size)
{
	memset(t, 0, sizeof(*t));
	t->record_size = record_size;
}

void store_slots_fini(struct store_slots *t)
{
	usm_rawmem_free(t->records, t->capacity * t->record_size);
	store_slots_init(t, t->record_size);
}

static int grow(struct store_slots *t)
{
	size_t capacity = t->capacity ? t->capacity * 2 : FIRST_CAPACITY;
	char *records;

	if (capacity > SIZE_MAX / t->record_size)
		return -ENOMEM;
	records = usm_rawmem_realloc(t->records, t->capacity * t->record_size,
				     capacity * t->record_size);
	if (!records)
		return -ENOMEM;
	t->records = records;
	t->capacity = capacity;
	return 0;
}

int store_slots_take(struct store_slots *t, uint64_t *handle, void **record)
{
	struct store_slot *slot;
	size_t index;

	if (t->free_head) {
		index = t->free_head - 1;
		slot = record_at(t, index);
		t->free_head = slot->next_free;
	} else {
		if (t->high == t->capacity) {
			int err = grow(t);
			if (err)
				return err;
		}
		index = t->high++;
		slot = record_at(t, index);
	}
	memset(slot, 0, t->record_size);
	slot->used = true;
	*handle = (uint64_t)index + 1;
	*record = slot;
	return 0;
}

void *store_slots_find(const struct store_slots *t, uint64_t handle)
{
	struct store_slot *slot;

	if (handle == 0 || handle > t->high)
		return NULL;
	slot = record_at(t, handle - 1);
	return slot->used ? slot : NULL;
}

void store_slots_give(struct store_slots *t, uint64_t handle)
{
	struct store_slot *slot = store_slots_find(t, handle);

	if (!slot)
		return;
	slot->used = false;
	slot->next_free = t->free_head;
	t->free_head = handle;
}
