/* Dirty tracking, the front: picks the backend (the best the kernel has,
 * or the forced one), keeps the result vector, and hands each call to the
 * backend's file (dirty_scan.c, dirty_softdirty.c, dirty_uffd.c,
 * dirty_mprotect.c). */
#include "supervisor/dirty_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/page.h"
#include "os/pagemap.h"
#include "os/uffd.h"

static const struct usm_dirty_ops *const backends[USM_DIRTY_BACKENDS] = {
	[USM_DIRTY_SCAN] = &usm_dirty_scan_ops,
	[USM_DIRTY_SOFTDIRTY] = &usm_dirty_softdirty_ops,
	[USM_DIRTY_UFFD] = &usm_dirty_uffd_ops,
	[USM_DIRTY_MPROTECT] = &usm_dirty_mprotect_ops,
};

/* The order AUTO tries them: cheapest cycle first (docs/supervisor.md). For
 * another process only softdirty: scan there would steal the written bits
 * of the target's own async write-protect user, the others cannot. */
static const enum usm_dirty_backend auto_self[] = {
	USM_DIRTY_SCAN, USM_DIRTY_SOFTDIRTY, USM_DIRTY_UFFD, USM_DIRTY_MPROTECT,
};

const char *usm_dirty_backend_name(enum usm_dirty_backend b)
{
	if (b == USM_DIRTY_AUTO)
		return "auto";
	if ((unsigned)b >= USM_DIRTY_BACKENDS)
		return "?";
	return backends[b]->name;
}

int usm_dirty_probe(enum usm_dirty_backend b, pid_t pid, unsigned without, unsigned *caps,
		    const char **why)
{
	const char *dummy;
	unsigned c = 0;
	int err;

	if (!why)
		why = &dummy;
	if (b == USM_DIRTY_AUTO || (unsigned)b >= USM_DIRTY_BACKENDS) {
		*why = "not a backend";
		return -EINVAL;
	}
	if (pid && kill(pid, 0) < 0 && errno == ESRCH) {
		*why = "no such process";
		return -ESRCH;
	}
	err = backends[b]->probe(pid, without, &c, why);
	if (!err && caps)
		*caps = c;
	return err;
}

enum usm_dirty_backend usm_dirty_auto_backend(unsigned without)
{
	for (size_t i = 0; i < sizeof(auto_self) / sizeof(auto_self[0]); i++) {
		unsigned caps;
		const char *why;

		if (backends[auto_self[i]]->probe(0, without, &caps, &why) == 0)
			return auto_self[i];
	}
	return USM_DIRTY_AUTO;
}

static int try_start(struct usm_dirty *d, const struct usm_dirty_ops *ops)
{
	int err = ops->probe(d->pid, d->without, &d->caps, &(const char *){ NULL });

	if (err)
		return err;
	d->ops = ops;
	return ops->start(d);
}

int usm_dirty_start(const struct usm_dirty_config *c, uint64_t start, uint64_t len,
		    struct usm_dirty **out)
{
	struct usm_dirty *d;
	int err = -ENOSYS;

	if (!len || start % USM_PAGE_SIZE || len % USM_PAGE_SIZE || start + len < start ||
	    (unsigned)c->backend >= USM_DIRTY_BACKENDS)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->pid = c->pid == getpid() ? 0 : c->pid;
	d->start = start;
	d->end = start + len;
	d->without = c->without;
	d->options = c->options;
	if (c->backend != USM_DIRTY_AUTO) {
		err = try_start(d, backends[c->backend]);
	} else if (d->pid) {
		err = try_start(d, &usm_dirty_softdirty_ops);
		if (err == -ENOSYS && (d->options & USM_DIRTY_INJECT_UFFD))
			err = try_start(d, &usm_dirty_scan_ops);
	} else {
		/* A backend that probes fine but cannot take this range (-EBUSY:
		 * registered with userfaultfd elsewhere) leaves it to the next. */
		for (size_t i = 0; i < sizeof(auto_self) / sizeof(auto_self[0]); i++) {
			err = try_start(d, backends[auto_self[i]]);
			if (!err || err == -EINVAL || err == -ENOMEM)
				break;
		}
	}
	if (err) {
		free(d);
		return err;
	}
	*out = d;
	return 0;
}

enum usm_dirty_backend usm_dirty_backend(const struct usm_dirty *d)
{
	return d->ops->id;
}

unsigned usm_dirty_caps(const struct usm_dirty *d)
{
	return d->caps;
}

int usm_dirty_emit(struct usm_dirty *d, uint64_t start, uint64_t end)
{
	if (d->count && d->out[d->count - 1].end == start) {
		d->out[d->count - 1].end = end;
		return 0;
	}
	if (d->count == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 64;
		struct usm_dirty_range *grown = realloc(d->out, ncap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		d->out = grown;
		d->cap = ncap;
	}
	d->out[d->count++] = (struct usm_dirty_range){ start, end };
	return 0;
}

int usm_dirty_emit_bitmap(struct usm_dirty *d, uint64_t *bits, uint64_t pages)
{
	int err = 0;

	for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
		uint64_t v;

		if (!atomic_load_explicit((_Atomic uint64_t *)&bits[w], memory_order_relaxed))
			continue;
		v = atomic_exchange((_Atomic uint64_t *)&bits[w], 0);
		while (v && !err) {
			uint64_t page = w * 64 + (uint64_t)__builtin_ctzll(v);
			uint64_t addr = d->start + page * USM_PAGE_SIZE;

			v &= v - 1;
			err = usm_dirty_emit(d, addr, addr + USM_PAGE_SIZE);
		}
		if (err) {
			/* keep what could not be reported for the next collect */
			atomic_fetch_or((_Atomic uint64_t *)&bits[w], v);
			return err;
		}
	}
	return 0;
}

int usm_dirty_collect(struct usm_dirty *d, const struct usm_dirty_range **ranges)
{
	int err;

	d->count = 0;
	err = d->ops->collect(d);
	if (err)
		return err;
	*ranges = d->out;
	return (int)d->count;
}

int usm_dirty_stop(struct usm_dirty *d)
{
	int err;

	if (!d)
		return 0;
	err = d->ops->stop(d);
	free(d->out);
	free(d);
	return err;
}

int usm_dirty_uffd_open(uint64_t need, uint64_t want, uint64_t *got)
{
	/* A full descriptor first: a user-mode-only one would make a write
	 * by the kernel (read(2) into the range) fail EFAULT while it is
	 * protected, instead of waiting. */
	static const enum usm_uffd_source sources[] = {
		USM_UFFD_SYSCALL, USM_UFFD_DEVICE, USM_UFFD_SYSCALL_USER_ONLY,
	};
	int err = -EPERM;

	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		uint64_t features = 0;
		int fd = usm_os_uffd_open(sources[i]);

		if (fd < 0) {
			if (fd != -EPERM && fd != -EACCES && fd != -ENOENT)
				err = fd;
			continue;
		}
		/* The API handshake is once per descriptor: ask what there is
		 * on a first one, then the wanted subset on a second. */
		err = usm_os_uffd_api(fd, 0, &features, NULL);
		close(fd);
		if (err)
			return err;
		if ((features & need) != need)
			return -ENOSYS;
		fd = usm_os_uffd_open(sources[i]);
		if (fd < 0)
			return fd;
		err = usm_os_uffd_api(fd, need | (want & features), NULL, NULL);
		if (err) {
			close(fd);
			return err;
		}
		/* The kernel answers with every feature it has, not the ones
		 * this descriptor got: those are the ones asked for. */
		if (got)
			*got = need | (want & features);
		return fd;
	}
	return err;
}

int usm_dirty_emit_scan(struct usm_dirty *d, int pagemap, const struct usm_os_pm_scan *q,
			struct usm_os_pm_region *vec, size_t cap)
{
	for (uint64_t addr = d->start; addr < d->end;) {
		uint64_t walk_end = d->end;
		int n = usm_os_pagemap_scan(pagemap, addr, d->end, q, vec, vec ? cap : 0, &walk_end);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			int err = usm_dirty_emit(d, vec[i].start, vec[i].end);

			if (err)
				return err;
		}
		if (walk_end <= addr)
			return -EIO;
		addr = walk_end;
	}
	return 0;
}
