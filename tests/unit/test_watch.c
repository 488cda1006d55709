/* Hardware watchpoints: a watched write calls back, in the writing thread
 * and after the write, a neighbouring one does not; skipped, with the
 * reason printed, where the machine has no hardware breakpoints. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/watch.h>

/* Four watched words and their neighbours, 8-byte aligned. */
static struct {
	volatile uint64_t before;
	volatile uint64_t watched[USM_WATCH_MAX + 1];
	volatile uint64_t after;
} vars __attribute__((aligned(64)));

struct seen {
	atomic_int hits;
	atomic_int tid;
	atomic_ullong value; /* what the watched word held in the callback */
	void *addr;
	int no_read; /* the callback does not read the watched word */
};

static void on_hit(void *addr, void *arg)
{
	struct seen *s = arg;

	atomic_fetch_add(&s->hits, 1);
	atomic_store(&s->tid, (int)gettid());
	if (!s->no_read)
		atomic_store(&s->value, *(volatile uint64_t *)addr);
	s->addr = addr;
}

static int need_watchpoints(void **state)
{
	int err = usm_watch_probe();

	if (err) {
		printf("# skipped: no hardware watchpoints here: %s\n", strerror(-err));
		skip();
	}
	return 0;
}

static void a_watched_write_calls_back_after_it_a_neighbouring_one_does_not(void **state)
{
	struct seen s = { 0 };
	struct usm_watch *w;

	assert_int_equal(usm_watch_add((void *)&vars.watched[0], 8, USM_WATCH_WRITE, on_hit, &s,
				       &w), 0);
	vars.before = 1;
	vars.watched[1] = 1;
	assert_int_equal(atomic_load(&s.hits), 0);
	vars.watched[0] = 42;
	assert_int_equal(atomic_load(&s.hits), 1);
	assert_ptr_equal(s.addr, (void *)&vars.watched[0]);
	/* the callback runs after the write, in the writing thread */
	assert_int_equal(atomic_load(&s.value), 42);
	assert_int_equal(atomic_load(&s.tid), (int)gettid());
	/* a read is not a write */
	assert_int_equal(vars.watched[0], 42);
	assert_int_equal(atomic_load(&s.hits), 1);
	vars.watched[0] = 43;
	assert_int_equal(atomic_load(&s.hits), 2);
	assert_int_equal(usm_watch_hits(w), 2);
	assert_int_equal(usm_watch_remove(w), 0);
	vars.watched[0] = 44;
	assert_int_equal(atomic_load(&s.hits), 2);
}

static void a_byte_watch_sees_only_its_byte(void **state)
{
	volatile uint8_t *bytes = (volatile uint8_t *)&vars.watched[0];
	struct seen s = { .no_read = 1 };
	struct usm_watch *w;

	assert_int_equal(usm_watch_add((void *)&bytes[3], 1, USM_WATCH_WRITE, on_hit, &s, &w), 0);
	bytes[2] = 1;
	bytes[4] = 1;
	assert_int_equal(atomic_load(&s.hits), 0);
	bytes[3] = 1;
	assert_int_equal(atomic_load(&s.hits), 1);
	assert_int_equal(usm_watch_remove(w), 0);
}

static void readwrite_sees_reads_too(void **state)
{
	struct seen s = { .no_read = 1 };
	struct usm_watch *w;
	uint64_t v;

	assert_int_equal(usm_watch_add((void *)&vars.watched[0], 8, USM_WATCH_READWRITE, on_hit,
				       &s, &w), 0);
	v = vars.after;
	assert_int_equal(atomic_load(&s.hits), 0);
	v = vars.watched[0];
	assert_int_equal(atomic_load(&s.hits), 1);
	vars.watched[0] = v + 1;
	assert_int_equal(atomic_load(&s.hits), 2);
	assert_int_equal(usm_watch_remove(w), 0);
}

struct writer {
	pthread_barrier_t *ready, *go;
	int tid;
};

static void *write_when_told(void *arg)
{
	struct writer *t = arg;

	t->tid = (int)gettid();
	pthread_barrier_wait(t->ready);
	pthread_barrier_wait(t->go);
	vars.watched[0] = 7;
	return NULL;
}

static void *write_now(void *arg)
{
	*(int *)arg = (int)gettid();
	vars.watched[0] = 8;
	return NULL;
}

static void every_thread_is_watched_old_and_new(void **state)
{
	pthread_barrier_t ready, go;
	struct writer old = { .ready = &ready, .go = &go };
	struct seen s = { 0 };
	struct usm_watch *w;
	pthread_t t;
	int new_tid = 0;

	pthread_barrier_init(&ready, NULL, 2);
	pthread_barrier_init(&go, NULL, 2);
	/* a thread that exists before the watch */
	assert_int_equal(pthread_create(&t, NULL, write_when_told, &old), 0);
	pthread_barrier_wait(&ready);
	assert_int_equal(usm_watch_add((void *)&vars.watched[0], 8, USM_WATCH_WRITE, on_hit, &s,
				       &w), 0);
	pthread_barrier_wait(&go);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&s.hits), 1);
	assert_int_equal(atomic_load(&s.tid), old.tid);
	/* and one created after it */
	assert_int_equal(pthread_create(&t, NULL, write_now, &new_tid), 0);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&s.hits), 2);
	assert_int_equal(atomic_load(&s.tid), new_tid);
	assert_int_equal(atomic_load(&s.value), 8);
	assert_int_equal(usm_watch_remove(w), 0);
	pthread_barrier_destroy(&ready);
	pthread_barrier_destroy(&go);
}

static void four_watches_at_once_and_no_fifth(void **state)
{
	struct seen s[USM_WATCH_MAX + 1] = { 0 };
	struct usm_watch *w[USM_WATCH_MAX + 1];

	for (int i = 0; i < USM_WATCH_MAX; i++)
		assert_int_equal(usm_watch_add((void *)&vars.watched[i], 8, USM_WATCH_WRITE, on_hit,
					       &s[i], &w[i]), 0);
	assert_int_equal(usm_watch_add((void *)&vars.watched[USM_WATCH_MAX], 8, USM_WATCH_WRITE,
				       on_hit, &s[USM_WATCH_MAX], &w[USM_WATCH_MAX]), -ENOSPC);
	for (int i = 0; i < USM_WATCH_MAX; i++) {
		vars.watched[i] = 100;
		for (int j = 0; j < USM_WATCH_MAX; j++)
			assert_int_equal(atomic_load(&s[j].hits), j <= i);
	}
	for (int i = 0; i < USM_WATCH_MAX; i++)
		assert_int_equal(usm_watch_remove(w[i]), 0);
}

static void bad_arguments_are_refused(void **state)
{
	struct seen s = { 0 };
	struct usm_watch *w;
	char *p = (char *)&vars.watched[0];

	assert_int_equal(usm_watch_add(p, 3, USM_WATCH_WRITE, on_hit, &s, &w), -EINVAL);
	assert_int_equal(usm_watch_add(p, 16, USM_WATCH_WRITE, on_hit, &s, &w), -EINVAL);
	assert_int_equal(usm_watch_add(p + 4, 8, USM_WATCH_WRITE, on_hit, &s, &w), -EINVAL);
	assert_int_equal(usm_watch_add(p, 8, 0, on_hit, &s, &w), -EINVAL);
	assert_int_equal(usm_watch_add(p, 8, USM_WATCH_WRITE, NULL, &s, &w), -EINVAL);
	assert_int_equal(usm_watch_remove(NULL), 0);
}

/* The program's own SIGTRAP handler, installed before usm's, still gets
 * the SIGTRAPs that are not usm's (in a child: usm installs afresh). */
static volatile sig_atomic_t own_traps;

static void own_trap(int sig)
{
	own_traps++;
}

static int own_handler_child(void)
{
	struct seen s = { 0 };
	struct usm_watch *w;

	signal(SIGTRAP, own_trap);
	if (usm_watch_add((void *)&vars.watched[0], 8, USM_WATCH_WRITE, on_hit, &s, &w))
		return 10;
	raise(SIGTRAP);
	if (own_traps != 1)
		return 11;
	vars.watched[0] = 5;
	if (atomic_load(&s.hits) != 1 || own_traps != 1)
		return 12;
	usm_watch_remove(w);
	return 0;
}

static void own_sigtrap_handler_still_gets_its_signals(void **state)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(own_handler_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(
			a_watched_write_calls_back_after_it_a_neighbouring_one_does_not,
			need_watchpoints),
		cmocka_unit_test_setup(a_byte_watch_sees_only_its_byte, need_watchpoints),
		cmocka_unit_test_setup(readwrite_sees_reads_too, need_watchpoints),
		cmocka_unit_test_setup(every_thread_is_watched_old_and_new, need_watchpoints),
		cmocka_unit_test_setup(four_watches_at_once_and_no_fifth, need_watchpoints),
		cmocka_unit_test(bad_arguments_are_refused),
		cmocka_unit_test_setup(own_sigtrap_handler_still_gets_its_signals,
				       need_watchpoints),
	};
	return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
