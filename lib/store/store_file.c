/* The "file:PATH" store: a swap file of fixed-size slots, one block per
 * slot at offset (handle - 1) * block_size. The file is created exclusively
 * (never someone else's file) with mode 0600 (it holds a process's memory)
 * and removed on close. A PATH ending in '/' is a directory: the file is
 * made there unnamed (O_TMPFILE), so that nothing is left even when the
 * process is killed. */
#include "store/store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/rawmem.h"

struct file_slot {
	struct store_slot slot;
	uint32_t len; /* a block may be shorter than block_size */
};

struct file_store {
	struct usm_store base;
	struct store_slots slots;
	int fd;
	/* The file is removed relative to its directory, which stays right if
	 * the managed program changes its working directory. */
	int dir_fd;
	char *name;
	size_t name_size;
};

static void file_close(struct usm_store *s)
{
	struct file_store *f = (struct file_store *)s;

	if (f->fd >= 0) {
		close(f->fd);
		if (*f->name)
			unlinkat(f->dir_fd, f->name, 0);
	}
	if (f->dir_fd >= 0)
		close(f->dir_fd);
	usm_rawmem_free(f->name, f->name_size);
	store_slots_fini(&f->slots);
	usm_rawmem_free(f, sizeof(*f));
}

/* Opens the directory of path and keeps the name inside it. */
static int open_dir(struct file_store *f, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir_len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
	size_t dir_size;
	char *dir;
	int err = 0;

	f->name = store_string_join(slash ? slash + 1 : path, NULL, &f->name_size);
	dir = store_string_join(slash ? path : ".", NULL, &dir_size);
	if (f->name && dir) {
		dir[dir_len] = '\0';
		f->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (f->dir_fd < 0)
			err = -errno;
	} else {
		err = -ENOMEM;
	}
	usm_rawmem_free(dir, dir_size);
	return err;
}

static int file_open(const char *path, size_t block_size, struct usm_store **out)
{
	struct file_store *f = usm_rawmem_alloc(sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	f->fd = -1;
	f->dir_fd = -1;
	store_slots_init(&f->slots, sizeof(struct file_slot));
	err = open_dir(f, path);
	if (!err) {
		if (*f->name)
			f->fd = openat(f->dir_fd, f->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		else
			f->fd = openat(f->dir_fd, ".", O_RDWR | O_TMPFILE | O_EXCL | O_CLOEXEC, 0600);
		if (f->fd < 0)
			err = -errno;
	}
	if (err) {
		file_close(&f->base);
		return err;
	}
	*out = &f->base;
	return 0;
}

static off_t slot_offset(const struct file_store *f, uint64_t handle)
{
	return (off_t)((handle - 1) * f->base.block_size);
}

/* Writes all of buf, through short writes and signals. */
static int write_all(int fd, const char *buf, size_t len, off_t offset)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ENOSPC || errno == EDQUOT ? -ENOSPC : -EIO;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

/* Reads all of buf; the end of the file before that is an error, since
 * every byte asked for was written. */
static int read_all(int fd, char *buf, size_t len, off_t offset)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

static int file_put(struct usm_store *s, const void *data, size_t len, uint64_t room,
		    uint64_t *handle, uint64_t *cost)
{
	struct file_store *f = (struct file_store *)s;
	struct file_slot *slot;
	int err;

	/* a slot is used whole, whatever the block's length */
	if (s->block_size > room)
		return -ENOSPC;
	err = store_slots_take(&f->slots, handle, (void **)&slot);
	if (err)
		return err;
	err = write_all(f->fd, data, len, slot_offset(f, *handle));
	if (err) {
		store_slots_give(&f->slots, *handle);
		return err;
	}
	slot->len = (uint32_t)len;
	*cost = s->block_size;
	return 0;
}

static int file_get(struct usm_store *s, uint64_t handle, void *data, size_t len)
{
	struct file_store *f = (struct file_store *)s;
	struct file_slot *slot = store_slots_find(&f->slots, handle);

	if (!slot || slot->len != len)
		return -EINVAL;
	return read_all(f->fd, data, len, slot_offset(f, handle));
}

static int64_t file_drop(struct usm_store *s, uint64_t handle)
{
	struct file_store *f = (struct file_store *)s;

	if (!store_slots_find(&f->slots, handle))
		return -EINVAL;
	store_slots_give(&f->slots, handle);
	return (int64_t)s->block_size;
}

const struct usm_store_ops usm_store_file_ops = {
	.open = file_open,
	.put = file_put,
	.get = file_get,
	.drop = file_drop,
	.close = file_close,
};
