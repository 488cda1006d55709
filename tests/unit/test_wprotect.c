/* Write protection with a callback: exactly one callback per first write,
 * before the write lands, from 4 threads at once, under every mechanism
 * the machine has; and the program's own fault handlers still get theirs. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/hugepage.h>
#include <usm/wprotect.h>

#define PAGE    4096
#define PAGES   512
#define WRITERS 4

struct mode {
	enum usm_wprotect_mech mech;
	unsigned int flags;
};

static const struct mode sigbus = { USM_WPROTECT_UFFD_SIGBUS, 0 };
static const struct mode sigbus_zero = { USM_WPROTECT_UFFD_SIGBUS, USM_WPROTECT_NO_WP_UNPOPULATED };
static const struct mode mprot = { USM_WPROTECT_MPROTECT, 0 };
static const struct mode thread = { USM_WPROTECT_UFFD_THREAD, 0 };
static const struct mode thread_zero = { USM_WPROTECT_UFFD_THREAD, USM_WPROTECT_NO_WP_UNPOPULATED };

/* Skips (with the reason printed) a mechanism this machine lacks. */
static void need(const struct mode *m)
{
	int err = usm_wprotect_probe(m->mech);

	if (err) {
		printf("# skipped: %s not available here: %s\n", usm_wprotect_mech_name(m->mech),
		       strerror(-err));
		skip();
	}
}

struct record {
	uintptr_t start;
	atomic_int calls[PAGES];
	atomic_int late;          /* callbacks that saw the write already done */
	atomic_int wrong_page;
	char before;              /* what a page holds before this round's write */
};

static void on_write(void *page, void *arg)
{
	struct record *r = arg;
	uintptr_t p = (uintptr_t)page;

	if (p % PAGE || p < r->start || p >= r->start + PAGES * PAGE) {
		atomic_fetch_add(&r->wrong_page, 1);
		return;
	}
	atomic_fetch_add(&r->calls[(p - r->start) / PAGE], 1);
	if (((volatile char *)page)[100] != r->before)
		atomic_fetch_add(&r->late, 1);
	/* widen the window in which other writers pile up on this page */
	sched_yield();
}

struct writer {
	char *mem;
	int id;
	char value;
	pthread_barrier_t *go;
};

static void *write_all(void *arg)
{
	struct writer *w = arg;

	pthread_barrier_wait(w->go);
	/* each thread starts at another page and all meet on every page */
	for (size_t k = 0; k < PAGES; k++) {
		size_t i = (k + (size_t)w->id * 7) % PAGES;
		((volatile char *)w->mem)[i * PAGE + 100] = w->value;
		((volatile char *)w->mem)[i * PAGE + 200 + (size_t)w->id] = w->value;
	}
	return NULL;
}

static void write_from_threads(char *mem, char value)
{
	pthread_t t[WRITERS];
	struct writer w[WRITERS];
	pthread_barrier_t go;

	pthread_barrier_init(&go, NULL, WRITERS);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .mem = mem, .id = i, .value = value, .go = &go };
		assert_int_equal(pthread_create(&t[i], NULL, write_all, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
}

static void assert_each_page_once(struct record *r)
{
	for (size_t i = 0; i < PAGES; i++)
		if (atomic_load(&r->calls[i]) != 1)
			fail_msg("page %zu: %d callbacks", i, atomic_load(&r->calls[i]));
	assert_int_equal(atomic_load(&r->late), 0);
	assert_int_equal(atomic_load(&r->wrong_page), 0);
}

/* Half the range written before (real pages), half never touched (no
 * page-table entry: WP_UNPOPULATED, or the zero page usm maps first). */
static void callback_runs_once_per_first_write_from_four_threads(void **state)
{
	const struct mode *m = *state;
	char *mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct record *r = calloc(1, sizeof(*r));
	struct usm_wprotect *w;
	volatile char sink = 0;

	need(m);
	assert_ptr_not_equal(mem, MAP_FAILED);
	memset(mem, 0, PAGES / 2 * PAGE);
	r->start = (uintptr_t)mem;
	assert_int_equal(usm_wprotect_open(mem, PAGES * PAGE, m->mech, m->flags, on_write, r, &w),
			 0);
	assert_int_equal(usm_wprotect_mech(w), m->mech);
	if (m->flags & USM_WPROTECT_NO_WP_UNPOPULATED)
		assert_int_equal(usm_wprotect_wp_unpopulated(w), 0);
	printf("# %s, %s\n", usm_wprotect_mech_name(m->mech),
	       usm_wprotect_wp_unpopulated(w) ? "WP_UNPOPULATED"
					      : "untouched pages mapped to zero");

	/* reads never call back */
	for (size_t i = 0; i < PAGES; i++)
		sink += mem[i * PAGE];
	assert_int_equal(usm_wprotect_traps(w), 0);

	write_from_threads(mem, 1);
	assert_each_page_once(r);
	assert_int_equal(usm_wprotect_traps(w), PAGES);
	/* every write landed */
	for (size_t i = 0; i < PAGES; i++)
		for (int t = 0; t < WRITERS; t++)
			assert_int_equal(mem[i * PAGE + 200 + t], 1);

	/* armed again: a second snapshot calls back once more per page */
	memset(r->calls, 0, sizeof(r->calls));
	r->before = 1;
	assert_int_equal(usm_wprotect_arm(w, mem, PAGES * PAGE), 0);
	write_from_threads(mem, 2);
	assert_each_page_once(r);
	assert_int_equal(usm_wprotect_traps(w), 2 * PAGES);

	assert_int_equal(usm_wprotect_close(w), 0);
	/* closed: writes no longer call back */
	memset(r->calls, 0, sizeof(r->calls));
	write_from_threads(mem, 3);
	for (size_t i = 0; i < PAGES; i++)
		assert_int_equal(atomic_load(&r->calls[i]), 0);
	munmap(mem, PAGES * PAGE);
	free(r);
}

static void arm_part_of_the_range(void **state)
{
	const struct mode *m = *state;
	char *mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct record *r = calloc(1, sizeof(*r));
	struct usm_wprotect *w;

	need(m);
	r->start = (uintptr_t)mem;
	assert_int_equal(usm_wprotect_open(mem, PAGES * PAGE, m->mech, m->flags, on_write, r, &w),
			 0);
	memset(mem, 1, PAGES * PAGE);
	assert_int_equal(usm_wprotect_traps(w), PAGES);
	assert_int_equal(usm_wprotect_arm(w, mem + 10 * PAGE, 3 * PAGE), 0);
	memset(mem, 2, PAGES * PAGE);
	assert_int_equal(usm_wprotect_traps(w), PAGES + 3);
	for (size_t i = 10; i < 13; i++)
		assert_int_equal(atomic_load(&r->calls[i]), 2);
	assert_int_equal(atomic_load(&r->calls[9]), 1);
	assert_int_equal(atomic_load(&r->calls[13]), 1);
	/* outside the range or unaligned */
	assert_int_equal(usm_wprotect_arm(w, mem + PAGES * PAGE, PAGE), -EINVAL);
	assert_int_equal(usm_wprotect_arm(w, mem + 1, PAGE), -EINVAL);
	assert_int_equal(usm_wprotect_close(w), 0);
	munmap(mem, PAGES * PAGE);
	free(r);
}

static void bad_arguments_are_refused(void **state)
{
	char *mem = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
	struct record *r = calloc(1, sizeof(*r));
	struct usm_wprotect *w, *w2;

	r->start = (uintptr_t)mem;
	assert_int_equal(usm_wprotect_open(mem + 1, PAGE, 0, 0, on_write, r, &w), -EINVAL);
	assert_int_equal(usm_wprotect_open(mem, PAGE + 1, 0, 0, on_write, r, &w), -EINVAL);
	assert_int_equal(usm_wprotect_open(mem, 0, 0, 0, on_write, r, &w), -EINVAL);
	assert_int_equal(usm_wprotect_open(mem, PAGE, 0, 0, NULL, r, &w), -EINVAL);
	assert_int_equal(usm_wprotect_open(mem, PAGE, 42, 0, on_write, r, &w), -EINVAL);
	assert_int_equal(usm_wprotect_open(mem, PAGE, 0, 1u << 7, on_write, r, &w), -EINVAL);
	assert_int_equal(usm_wprotect_probe(42), -EINVAL);
	assert_null(usm_wprotect_mech_name(42));
	assert_int_equal(usm_wprotect_open(mem, 2 * PAGE, USM_WPROTECT_MPROTECT, 0, on_write, r,
					   &w), 0);
	assert_int_equal(usm_wprotect_open(mem + PAGE, 2 * PAGE, USM_WPROTECT_MPROTECT, 0, on_write,
					   r, &w2), -EEXIST);
	assert_int_equal(usm_wprotect_open(mem + PAGE, 2 * PAGE, USM_WPROTECT_AUTO, 0, on_write, r,
					   &w2), -EEXIST);
	assert_int_equal(usm_wprotect_close(w), 0);
	if (usm_wprotect_probe(USM_WPROTECT_UFFD_SIGBUS) == 0) {
		assert_int_equal(usm_wprotect_open(mem, 2 * PAGE, USM_WPROTECT_UFFD_SIGBUS, 0,
						   on_write, r, &w), 0);
		assert_int_equal(usm_wprotect_open(mem + PAGE, PAGE, USM_WPROTECT_UFFD_SIGBUS, 0,
						   on_write, r, &w2), -EEXIST);
		assert_int_equal(usm_wprotect_close(w), 0);
	}
	assert_int_equal(usm_wprotect_close(NULL), 0);
	munmap(mem, 4 * PAGE);
	free(r);
}

static void auto_picks_the_fastest_available(void **state)
{
	char *mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct record *r = calloc(1, sizeof(*r));
	enum usm_wprotect_mech want = usm_wprotect_probe(USM_WPROTECT_UFFD_SIGBUS) == 0
					      ? USM_WPROTECT_UFFD_SIGBUS : USM_WPROTECT_MPROTECT;
	struct usm_wprotect *w;

	r->start = (uintptr_t)mem;
	assert_int_equal(usm_wprotect_open(mem, PAGE, USM_WPROTECT_AUTO, 0, on_write, r, &w), 0);
	printf("# auto chose %s\n", usm_wprotect_mech_name(usm_wprotect_mech(w)));
	assert_int_equal(usm_wprotect_mech(w), want);
	mem[0] = 1;
	assert_int_equal(usm_wprotect_traps(w), 1);
	assert_int_equal(usm_wprotect_close(w), 0);
	munmap(mem, PAGE);
	free(r);
}

/* A range backed by a transparent huge page: the callback still comes
 * once per written 4 KiB page (the kernel splits the huge page then). */
static void a_huge_page_calls_back_per_small_page(void **state)
{
	const struct mode *m = *state;
	uint64_t huge = usm_huge_page_size();
	char *map, *mem;
	struct record *r;
	struct usm_huge_info info;
	struct usm_wprotect *w;
	const size_t pages[] = { 0, 5, 511 };
	int err;

	need(m);
	if (huge != 512 * PAGE) {
		printf("# skipped: no 2 MiB transparent huge pages here\n");
		skip();
	}
	map = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(map, MAP_FAILED);
	mem = (char *)(((uintptr_t)map + huge - 1) & ~(uintptr_t)(huge - 1));
	memset(mem, 0, huge);
	err = usm_huge_request(mem, huge, USM_HUGE_COLLAPSE);
	assert_int_equal(usm_huge_query(mem, huge, &info), 0);
	if (err || info.huge_bytes != huge) {
		munmap(map, 2 * huge);
		printf("# skipped: no huge page for the range: %s\n",
		       strerror(err ? -err : EAGAIN));
		skip();
	}
	r = calloc(1, sizeof(*r));
	r->start = (uintptr_t)mem;
	assert_int_equal(usm_wprotect_open(mem, huge, m->mech, m->flags, on_write, r, &w), 0);
	for (size_t i = 0; i < 3; i++)
		mem[pages[i] * PAGE + 100] = 1;
	assert_int_equal(usm_wprotect_traps(w), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(atomic_load(&r->calls[pages[i]]), 1);
	assert_int_equal(atomic_load(&r->late), 0);
	assert_int_equal(atomic_load(&r->wrong_page), 0);
	assert_int_equal(usm_wprotect_close(w), 0);
	munmap(map, 2 * huge);
	free(r);
}

/* An untouched range where faults would allocate huge pages: without
 * WP_UNPOPULATED usm maps it to the zero page first, here the huge zero
 * page (use_zero_page), whose protection must hold per 4 KiB page too. */
static void an_untouched_huge_range_calls_back_per_small_page(void **state)
{
	const struct mode *m = *state;
	uint64_t huge = usm_huge_page_size();
	struct record *r;
	struct usm_wprotect *w;
	char *map, *mem;

	need(m);
	if (huge != 512 * PAGE || usm_huge_mode() < USM_HUGE_MADVISE) {
		printf("# skipped: no 2 MiB transparent huge pages here\n");
		skip();
	}
	map = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(map, MAP_FAILED);
	mem = (char *)(((uintptr_t)map + huge - 1) & ~(uintptr_t)(huge - 1));
	assert_int_equal(usm_huge_request(mem, huge, 0), 0);
	r = calloc(1, sizeof(*r));
	r->start = (uintptr_t)mem;
	assert_int_equal(usm_wprotect_open(mem, huge, m->mech, m->flags, on_write, r, &w), 0);
	write_from_threads(mem, 1);
	assert_each_page_once(r);
	assert_int_equal(usm_wprotect_close(w), 0);
	munmap(map, 2 * huge);
	free(r);
}

/* A private mapping of a regular file is not anonymous memory: userfaultfd
 * cannot write-protect it, says so, and AUTO falls back to mprotect. */
static void a_file_mapping_is_refused_by_uffd_and_auto_uses_mprotect(void **state)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	char *mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	struct record *r = calloc(1, sizeof(*r));
	struct usm_wprotect *w;

	struct statfs fs;

	need(&sigbus);
	assert_true(fd >= 0);
	assert_ptr_not_equal(mem, MAP_FAILED);
	/* A file on tmpfs (the QEMU guest's initramfs) is shmem, which
	 * userfaultfd write-protects: not the file mapping this is about. */
	assert_int_equal(fstatfs(fd, &fs), 0);
	if (fs.f_type == TMPFS_MAGIC) {
		printf("# skipped: /proc/self/exe is on tmpfs, which userfaultfd takes as shmem\n");
		munmap(mem, PAGE);
		close(fd);
		free(r);
		skip();
	}
	r->start = (uintptr_t)mem;
	r->before = mem[100];
	assert_int_equal(usm_wprotect_open(mem, PAGE, USM_WPROTECT_UFFD_SIGBUS, 0, on_write, r, &w),
			 -EOPNOTSUPP);
	assert_int_equal(usm_wprotect_open(mem, PAGE, USM_WPROTECT_AUTO, 0, on_write, r, &w), 0);
	assert_int_equal(usm_wprotect_mech(w), USM_WPROTECT_MPROTECT);
	mem[100] = 1;
	assert_int_equal(usm_wprotect_traps(w), 1);
	assert_int_equal(atomic_load(&r->late), 0);
	assert_int_equal(usm_wprotect_close(w), 0);
	munmap(mem, PAGE);
	close(fd);
	free(r);
}

/* A write by the kernel (read(2) into a protected buffer): the handler
 * thread serves it; in the signal modes the system call fails EFAULT, as
 * the header says. */
static void kernel_write_waits_only_for_the_handler_thread(void **state)
{
	const struct mode *m = *state;
	char *mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct record *r = calloc(1, sizeof(*r));
	struct usm_wprotect *w;
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n;

	need(m);
	assert_true(fd >= 0);
	r->start = (uintptr_t)mem;
	assert_int_equal(usm_wprotect_open(mem, PAGE, m->mech, m->flags, on_write, r, &w), 0);
	n = read(fd, mem, 64);
	if (m->mech == USM_WPROTECT_UFFD_THREAD) {
		if (n < 0 && errno == EFAULT) {
			printf("# skipped: only a user-mode-only userfaultfd here\n");
			close(fd);
			usm_wprotect_close(w);
			skip();
		}
		assert_true(n > 0);
		assert_int_equal(usm_wprotect_traps(w), 1);
	} else {
		assert_int_equal(n, -1);
		assert_int_equal(errno, EFAULT);
		assert_int_equal(usm_wprotect_traps(w), 0);
	}
	close(fd);
	assert_int_equal(usm_wprotect_close(w), 0);
	munmap(mem, PAGE);
	free(r);
}

/* ---- the program's own handlers (each case in a fresh child, where usm
 * installs its handler for the first time) ---- */

static sigjmp_buf own_jump;
static volatile sig_atomic_t own_faults;
static void *own_addr;
static struct sigaction own_prev;

/* The program's handler: counts its fault and skips the access. */
static void own_handler(int sig, siginfo_t *si, void *uc)
{
	if (si->si_addr == own_addr) {
		own_faults++;
		siglongjmp(own_jump, 1);
	}
	/* a well-behaved handler installed after usm passes the rest on */
	if (own_prev.sa_flags & SA_SIGINFO)
		own_prev.sa_sigaction(sig, si, uc);
}

/* A handler from before usm: it must still get what nobody after it takes. */
static void *orig_addr;
static volatile sig_atomic_t orig_faults;

static void orig_handler(int sig, siginfo_t *si, void *uc)
{
	if (si->si_addr == orig_addr) {
		orig_faults++;
		siglongjmp(own_jump, 1);
	}
	signal(sig, SIG_DFL);
}

static int orig_fault(void)
{
	int before = orig_faults;

	if (sigsetjmp(own_jump, 1) == 0)
		*(volatile char *)orig_addr = 1;
	return orig_faults == before + 1;
}

static void install_own(int sig)
{
	struct sigaction sa = { .sa_sigaction = own_handler, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, &own_prev);
}

/* own_addr faults with `sig`: a read-only page (SIGSEGV, SEGV_ACCERR, like
 * usm's own faults) or a file mapping past its end (SIGBUS, BUS_ADRERR). */
static char *own_fault_page(int sig)
{
	char *p;

	if (sig == SIGSEGV)
		return mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = memfd_create("usm-test", 0);
	if (fd < 0 || ftruncate(fd, PAGE) < 0)
		return NULL;
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ftruncate(fd, 0) < 0)
		return NULL;
	close(fd);
	return p;
}

static int own_fault(void)
{
	int before = own_faults;

	if (sigsetjmp(own_jump, 1) == 0)
		*(volatile char *)own_addr = 1;
	return own_faults == before + 1;
}

/* Exit codes: 0 all good, 10+ which step failed. */
static int chain_child(const struct mode *m, int sig, bool own_first)
{
	char *mem = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
	struct record *r = calloc(1, sizeof(*r));
	struct usm_wprotect *w;

	own_addr = own_fault_page(sig);
	if (!own_addr || own_addr == MAP_FAILED)
		return 10;
	r->start = (uintptr_t)mem;
	if (!own_first) {
		struct sigaction sa = { .sa_sigaction = orig_handler, .sa_flags = SA_SIGINFO };

		orig_addr = own_fault_page(sig);
		if (!orig_addr || orig_addr == MAP_FAILED)
			return 19;
		sigemptyset(&sa.sa_mask);
		sigaction(sig, &sa, NULL);
	}
	if (own_first)
		install_own(sig);
	if (usm_wprotect_open(mem, 3 * PAGE, m->mech, m->flags, on_write, r, &w))
		return 11;
	if (!own_first)
		install_own(sig);
	if (!own_fault())
		return 12;
	mem[PAGE] = 5;
	if (usm_wprotect_traps(w) != 1 || atomic_load(&r->calls[1]) != 1 || own_faults != 1)
		return 13;
	if (!own_fault() || own_faults != 2)
		return 14;
	mem[2 * PAGE] = 5;
	if (usm_wprotect_traps(w) != 2)
		return 15;
	if (!own_first) {
		/* a second range puts usm in front of the program's handler,
		 * which passes on to the usm it replaced: no loop, both work */
		struct usm_wprotect *w2;

		if (usm_wprotect_open(mem + 3 * PAGE, PAGE, m->mech, m->flags, on_write, r, &w2))
			return 16;
		if (!own_fault() || own_faults != 3)
			return 17;
		mem[3 * PAGE] = 5;
		mem[0] = 5;
		if (usm_wprotect_traps(w2) != 1 || usm_wprotect_traps(w) != 3)
			return 18;
		/* neither usm's nor the program's: on to the one before both */
		if (!orig_fault() || orig_faults != 1 || own_faults != 3)
			return 20;
		usm_wprotect_close(w2);
	}
	usm_wprotect_close(w);
	return 0;
}

static int run_in_child(int (*fn)(const struct mode *, int, bool), const struct mode *m, int sig,
			bool flag)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(m, sig, flag));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void own_handler_before_usm_gets_its_faults(void **state)
{
	const struct mode *m = *state;
	int sig = m->mech == USM_WPROTECT_MPROTECT ? SIGSEGV : SIGBUS;
	int status;

	need(m);
	status = run_in_child(chain_child, m, sig, true);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void own_handler_after_usm_gets_its_faults(void **state)
{
	const struct mode *m = *state;
	int sig = m->mech == USM_WPROTECT_MPROTECT ? SIGSEGV : SIGBUS;
	int status;

	need(m);
	status = run_in_child(chain_child, m, sig, false);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* With the default action before usm, a fault that is not usm's kills as
 * it would have without usm. */
static int default_child(const struct mode *m, int sig, bool unused)
{
	char *mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct record *r = calloc(1, sizeof(*r));
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	struct usm_wprotect *w;

	own_addr = own_fault_page(sig);
	if (!own_addr || own_addr == MAP_FAILED)
		return 10;
	/* the sanitizers' handler would report instead of dying by sig */
	sigaction(sig, &dfl, NULL);
	r->start = (uintptr_t)mem;
	if (usm_wprotect_open(mem, PAGE, m->mech, m->flags, on_write, r, &w))
		return 11;
	mem[0] = 1;
	if (usm_wprotect_traps(w) != 1)
		return 12;
	*(volatile char *)own_addr = 1;
	return 13;
}

static void fault_not_ours_with_default_action_kills(void **state)
{
	const struct mode *m = *state;
	int sig = m->mech == USM_WPROTECT_MPROTECT ? SIGSEGV : SIGBUS;
	int status;

	need(m);
	status = run_in_child(default_child, m, sig, false);
	if (WIFEXITED(status))
		fail_msg("child exited %d", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), sig);
}

/* One case per mechanism, named after it in the TAP output. */
#define WITH(test, mode) \
	{ .name = #test " (" #mode ")", .test_func = test, .initial_state = (void *)&mode }
#define EACH_MODE(test) \
	WITH(test, sigbus), WITH(test, sigbus_zero), WITH(test, mprot), WITH(test, thread), \
	WITH(test, thread_zero)

int main(void)
{
	const struct CMUnitTest tests[] = {
		EACH_MODE(callback_runs_once_per_first_write_from_four_threads),
		EACH_MODE(arm_part_of_the_range),
		EACH_MODE(a_huge_page_calls_back_per_small_page),
		EACH_MODE(an_untouched_huge_range_calls_back_per_small_page),
		cmocka_unit_test(bad_arguments_are_refused),
		cmocka_unit_test(auto_picks_the_fastest_available),
		cmocka_unit_test(a_file_mapping_is_refused_by_uffd_and_auto_uses_mprotect),
		WITH(kernel_write_waits_only_for_the_handler_thread, sigbus),
		WITH(kernel_write_waits_only_for_the_handler_thread, mprot),
		WITH(kernel_write_waits_only_for_the_handler_thread, thread),
		WITH(own_handler_before_usm_gets_its_faults, sigbus),
		WITH(own_handler_before_usm_gets_its_faults, mprot),
		WITH(own_handler_after_usm_gets_its_faults, sigbus),
		WITH(own_handler_after_usm_gets_its_faults, mprot),
		WITH(fault_not_ours_with_default_action_kills, sigbus),
		WITH(fault_not_ours_with_default_action_kills, mprot),
	};
	return cmocka_run_group_tests_name("wprotect", tests, NULL, NULL);
}
