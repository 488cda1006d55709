/* perf_event_open and its mmap'd ring buffer: opening events, sharing one
 * buffer among events of a CPU, and reading records out of it with the
 * records the kernel had to drop counted. */
#ifndef USM_OS_PERF_H
#define USM_OS_PERF_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct usm_os_perf_ring {
	int fd;
	void *base;       /* the control page, then the data pages */
	size_t data_size; /* a power of two */
	uint64_t lost;    /* records the kernel dropped (PERF_RECORD_LOST) */
	void *bounce;     /* one record that wraps the end, copied straight */
	size_t bounce_size;
};

/* perf_event_open(2). Returns the fd or a negative errno. */
int usm_os_perf_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
		     unsigned long flags);

/* Maps a ring buffer of data_pages pages (a power of two) on fd. Returns 0
 * or a negative errno (-EPERM when over perf_event_mlock_kb unprivileged). */
int usm_os_perf_ring_map(int fd, size_t data_pages, struct usm_os_perf_ring *r);
void usm_os_perf_ring_unmap(struct usm_os_perf_ring *r);

/* Makes event fd write into the ring buffer of event target. */
int usm_os_perf_set_output(int fd, int target);
/* The id the kernel puts in PERF_SAMPLE_IDENTIFIER of fd's records (an
 * inherited copy in a child thread reports its parent's). */
int usm_os_perf_id(int fd, uint64_t *id);
int usm_os_perf_enable(int fd);
/* A tracepoint event's ftrace filter ("comm == \"cat\""): the kernel drops
 * what does not match before it reaches the ring. */
int usm_os_perf_set_filter(int fd, const char *filter);
int usm_os_perf_disable(int fd);

/* Hands each record now in the ring to fn, in order, then frees their
 * space. A PERF_RECORD_LOST adds to r->lost and is passed on too. The
 * header pointer is valid only during the call. Returns the number of
 * records, or a negative errno (-ENOMEM). */
typedef void (*usm_os_perf_record_fn)(const struct perf_event_header *h, void *arg);
long usm_os_perf_ring_drain(struct usm_os_perf_ring *r, usm_os_perf_record_fn fn, void *arg);

/* The samples the kernel could not write for event fd, its inherited
 * copies' included, whether or not a PERF_RECORD_LOST said so yet (one is
 * written only once the ring has room again: never, for the last ones).
 * fd must be opened with read_format PERF_FORMAT_LOST alone (Linux 6.0+).
 * Returns 0 or a negative errno. */
int usm_os_perf_read_lost(int fd, uint64_t *lost);

/* Whether the ring holds unread data. */
int usm_os_perf_ring_pending(const struct usm_os_perf_ring *r);

/* What an empty syscall (entry and exit, no work) costs this process now,
 * in ns: the part of every syscall a bypass would save. */
uint64_t usm_os_syscall_roundtrip_ns(void);

#endif
