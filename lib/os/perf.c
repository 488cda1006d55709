/* perf_event_open(2) and the ring buffer protocol of its mmap'd pages
 * (include/uapi/linux/perf_event.h): the kernel moves data_head, we read up
 * to it and move data_tail, with the barriers the protocol asks for. */
#include "os/perf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"

int usm_os_perf_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
		     unsigned long flags)
{
	long fd = syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

int usm_os_perf_ring_map(int fd, size_t data_pages, struct usm_os_perf_ring *r)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	if (!data_pages || (data_pages & (data_pages - 1)))
		return -EINVAL;
	p = mmap(NULL, (data_pages + 1) * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->base = p;
	r->data_size = data_pages * page;
	return 0;
}

void usm_os_perf_ring_unmap(struct usm_os_perf_ring *r)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (r->base)
		munmap(r->base, r->data_size + page);
	free(r->bounce);
	r->base = NULL;
	r->bounce = NULL;
}

int usm_os_perf_set_output(int fd, int target)
{
	return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, target) < 0 ? -errno : 0;
}

int usm_os_perf_id(int fd, uint64_t *id)
{
	return ioctl(fd, PERF_EVENT_IOC_ID, id) < 0 ? -errno : 0;
}

int usm_os_perf_enable(int fd)
{
	return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0 ? -errno : 0;
}

int usm_os_perf_set_filter(int fd, const char *filter)
{
	return ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) < 0 ? -errno : 0;
}

int usm_os_perf_disable(int fd)
{
	return ioctl(fd, PERF_EVENT_IOC_DISABLE, 0) < 0 ? -errno : 0;
}

int usm_os_perf_read_lost(int fd, uint64_t *lost)
{
	uint64_t v[2]; /* the count, then the lost samples */
	ssize_t n = read(fd, v, sizeof(v));

	if (n < 0)
		return -errno;
	if (n != sizeof(v))
		return -EIO;
	*lost = v[1];
	return 0;
}

int usm_os_perf_ring_pending(const struct usm_os_perf_ring *r)
{
	const struct perf_event_mmap_page *m = r->base;

	return __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE) != m->data_tail;
}

long usm_os_perf_ring_drain(struct usm_os_perf_ring *r, usm_os_perf_record_fn fn, void *arg)
{
	struct perf_event_mmap_page *m = r->base;
	const unsigned char *data = (const unsigned char *)r->base + m->data_offset;
	uint64_t head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = m->data_tail;
	size_t mask = r->data_size - 1;
	long n = 0;

	if (m->data_offset == 0) /* kernels before 4.1 put data right after the page */
		data = (const unsigned char *)r->base + sysconf(_SC_PAGESIZE);
	while (tail < head) {
		size_t off = tail & mask;
		const struct perf_event_header *h = (const void *)(data + off);
		struct perf_event_header hcopy;

		if (off + sizeof(hcopy) > r->data_size) {
			size_t first = r->data_size - off;

			memcpy(&hcopy, data + off, first);
			memcpy((char *)&hcopy + first, data, sizeof(hcopy) - first);
			h = &hcopy;
		}
		if (h->size < sizeof(*h) || h->size > head - tail)
			break; /* cannot happen with a sane kernel: stop, do not spin */
		if (off + h->size > r->data_size) {
			size_t first = r->data_size - off;

			if (r->bounce_size < h->size) {
				void *b = realloc(r->bounce, h->size);

				if (!b)
					return -ENOMEM;
				r->bounce = b;
				r->bounce_size = h->size;
			}
			memcpy(r->bounce, data + off, first);
			memcpy((char *)r->bounce + first, data, h->size - first);
			h = r->bounce;
		}
		if (h->type == PERF_RECORD_LOST) {
			const struct { struct perf_event_header h; uint64_t id, lost; } *l = (const void *)h;

			r->lost += l->lost;
		}
		fn(h, arg);
		tail += h->size;
		n++;
	}
	__atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
	return n;
}

uint64_t usm_os_syscall_roundtrip_ns(void)
{
	uint64_t best = UINT64_MAX;

	/* The fastest of a few rounds: an interrupt inflates a round, nothing
	 * deflates one. Syscall -1 does no work: it is entry and exit alone. */
	for (int round = 0; round < 5; round++) {
		enum { N = 20000 };
		uint64_t t0 = usm_now_ns(), d;

		for (int i = 0; i < N; i++)
			syscall(-1L);
		d = (usm_now_ns() - t0) / N;
		if (d < best)
			best = d;
	}
	return best;
}
