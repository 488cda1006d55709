/* Policies pick the victims their rule says, in the exact order, never a
 * node that is no longer resident, and always terminate; "refault" protects
 * what comes back soon and lets a scan pass through. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include "policy/policy.h"

#define N 8

static struct usm_policy_node nodes[N];

/* Names the victims by index into nodes[], e.g. "0 1 2". */
static const char *picked(struct usm_policy *p, size_t max)
{
	static char text[4 * 256];
	struct usm_policy_node *victims[256];
	size_t n = usm_policy_pick(p, victims, max), len = 0;

	text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		assert_false(victims[i]->linked);
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%d", i ? " " : "",
					(int)(victims[i] - nodes));
	}
	return text;
}

/* Records each rearm call, as picked() does for victims. */
struct rearm_log {
	char text[4 * 256];
	size_t len, calls, nodes, largest_batch;
};

static void log_rearm(void *ctx, struct usm_policy_node **batch, size_t n)
{
	struct rearm_log *log = ctx;

	log->calls++;
	log->nodes += n;
	if (n > log->largest_batch)
		log->largest_batch = n;
	for (size_t i = 0; i < n; i++) {
		assert_false(batch[i]->referenced);
		assert_true(batch[i]->linked);
		if (batch[i] >= nodes && batch[i] < nodes + N)
			log->len += (size_t)snprintf(log->text + log->len,
						     sizeof(log->text) - log->len, "%s%d",
						     log->len ? " " : "", (int)(batch[i] - nodes));
	}
}

static const char *rearmed(struct rearm_log *log)
{
	static char text[sizeof(log->text)];

	memcpy(text, log->text, sizeof(text));
	log->text[0] = '\0';
	log->len = 0;
	return text;
}

static struct usm_policy *create(const char *name, struct rearm_log *log)
{
	struct usm_policy *p = NULL;

	memset(nodes, 0, sizeof(nodes));
	assert_int_equal(usm_policy_create(name, log ? log_rearm : NULL, log, &p), 0);
	assert_non_null(p);
	assert_string_equal(usm_policy_name(p), name);
	return p;
}

static void insert(struct usm_policy *p, int first, int last)
{
	for (int i = first; i <= last; i++)
		usm_policy_inserted(p, &nodes[i]);
}

static void fifo_picks_in_insertion_order(void **state)
{
	struct usm_policy *p = create("fifo", NULL);

	insert(p, 0, 4);
	assert_int_equal(usm_policy_count(p), 5);
	assert_string_equal(picked(p, 2), "0 1");
	insert(p, 5, 5);
	assert_string_equal(picked(p, 1), "2");
	insert(p, 0, 0); /* evicted, then resident again: now the newest */
	assert_string_equal(picked(p, 10), "3 4 5 0");
	assert_int_equal(usm_policy_count(p), 0);
	assert_string_equal(picked(p, 10), "");
	usm_policy_destroy(p);
}

static void fifo_ignores_access(void **state)
{
	struct usm_policy *p = create("fifo", NULL);

	insert(p, 0, 3);
	usm_policy_accessed(p, &nodes[0]);
	usm_policy_accessed(p, &nodes[2]);
	assert_false(nodes[0].referenced);
	assert_string_equal(picked(p, 10), "0 1 2 3");
	usm_policy_destroy(p);
}

static void removed_nodes_are_never_picked(void **state)
{
	static const char *names[] = {"fifo", "clock", "refault"};

	for (int k = 0; k < 3; k++) {
		struct usm_policy *p = create(names[k], NULL);

		insert(p, 0, 5);
		usm_policy_removed(p, &nodes[0]); /* the oldest, or under the hand */
		usm_policy_removed(p, &nodes[3]);
		usm_policy_removed(p, &nodes[5]); /* the newest */
		assert_false(nodes[3].linked);
		/* removing again, or a node never inserted, changes nothing */
		usm_policy_removed(p, &nodes[3]);
		usm_policy_removed(p, &nodes[7]);
		assert_int_equal(usm_policy_count(p), 3);
		assert_string_equal(picked(p, 10), "1 2 4");
		usm_policy_destroy(p);
	}
}

static void count_follows_inserts_removes_and_picks(void **state)
{
	static const char *names[] = {"fifo", "clock", "refault"};

	for (int k = 0; k < 3; k++) {
		struct usm_policy *p = create(names[k], NULL);

		assert_int_equal(usm_policy_count(p), 0);
		insert(p, 0, 7);
		insert(p, 2, 3); /* already resident: not counted twice */
		assert_int_equal(usm_policy_count(p), 8);
		usm_policy_removed(p, &nodes[6]);
		assert_int_equal(usm_policy_count(p), 7);
		assert_int_equal(strlen(picked(p, 3)) > 0, 1);
		assert_int_equal(usm_policy_count(p), 4);
		picked(p, 100);
		assert_int_equal(usm_policy_count(p), 0);
		insert(p, 6, 6);
		assert_int_equal(usm_policy_count(p), 1);
		usm_policy_destroy(p);
		assert_false(nodes[6].linked); /* destroy lets go of the nodes */
	}
}

/* A scripted run; every step is worked out in the comments. */
static void clock_gives_referenced_nodes_a_second_chance(void **state)
{
	struct rearm_log log = {.len = 0};
	struct usm_policy *p = create("clock", &log);

	insert(p, 0, 3); /* hand at 0; ring 0 1 2 3, all referenced */
	assert_true(nodes[0].referenced);
	/* one revolution clears all four, the second finds 0 clear */
	assert_string_equal(picked(p, 1), "0");
	assert_string_equal(rearmed(&log), "0 1 2 3");
	usm_policy_accessed(p, &nodes[2]);
	/* hand at 1: 1 is clear, 2 was used and is passed over, 3 is clear */
	assert_string_equal(picked(p, 2), "1 3");
	assert_string_equal(rearmed(&log), "2");
	/* hand at 2; 4 goes just behind it: ring 2 4 */
	insert(p, 4, 4);
	assert_string_equal(picked(p, 1), "2");
	assert_string_equal(rearmed(&log), "");
	/* 4 is new, so referenced: cleared once, then taken */
	assert_string_equal(picked(p, 1), "4");
	assert_string_equal(rearmed(&log), "4");
	assert_string_equal(picked(p, 1), "");
	usm_policy_destroy(p);
}

static void clock_removing_the_node_under_the_hand_moves_the_hand(void **state)
{
	struct usm_policy *p = create("clock", NULL);

	insert(p, 0, 2);
	assert_string_equal(picked(p, 1), "0"); /* hand now at 1, all clear */
	usm_policy_removed(p, &nodes[1]);
	assert_string_equal(picked(p, 1), "2");
	insert(p, 3, 3);
	usm_policy_removed(p, &nodes[3]); /* the only node */
	assert_int_equal(usm_policy_count(p), 0);
	assert_string_equal(picked(p, 1), "");
	usm_policy_destroy(p);
}

/* With every node referenced, one pick clears them all (rearming each once,
 * in batches) and still returns victims. */
#define MANY 300

static void
clock_terminates_when_all_are_referenced_and_rearms_exactly_those_it_cleared(void **state)
{
	static struct usm_policy_node many[MANY];
	struct usm_policy_node *victims[MANY];
	struct rearm_log log = {.len = 0};
	struct usm_policy *p = create("clock", &log);

	memset(many, 0, sizeof(many));
	for (int i = 0; i < MANY; i++)
		usm_policy_inserted(p, &many[i]);
	assert_int_equal(usm_policy_pick(p, victims, 5), 5);
	for (int i = 0; i < 5; i++)
		assert_ptr_equal(victims[i], &many[i]);
	assert_int_equal(log.nodes, MANY);
	assert_true(log.largest_batch <= 64);
	assert_true(log.calls >= (MANY + 63) / 64);
	/* nothing is referenced now: the next pick clears and rearms nothing */
	log.nodes = 0;
	assert_int_equal(usm_policy_pick(p, victims, MANY), MANY - 5);
	assert_int_equal(log.nodes, 0);
	usm_policy_destroy(p);

	/* max larger than what is resident, all referenced, no rearm hook */
	p = create("clock", NULL);
	insert(p, 0, 2);
	assert_string_equal(picked(p, 10), "0 1 2");
	usm_policy_destroy(p);
}

static void clock_does_not_rearm_nodes_it_did_not_reach(void **state)
{
	struct rearm_log log = {.len = 0};
	struct usm_policy *p = create("clock", &log);

	insert(p, 0, 3);
	assert_string_equal(picked(p, 1), "0"); /* clears all; hand at 1 */
	assert_string_equal(rearmed(&log), "0 1 2 3");
	usm_policy_accessed(p, &nodes[3]);
	assert_string_equal(picked(p, 1), "1");
	assert_string_equal(rearmed(&log), ""); /* the hand stopped before 3 */
	assert_string_equal(picked(p, 2), "2 3");
	assert_string_equal(rearmed(&log), "3");
	usm_policy_destroy(p);
}

/* ---- refault ---- */

/* Picks n victims and puts them straight back, as a page evicted and
 * faulted in again at once. */
static void evict_and_refault(struct usm_policy *p, int n)
{
	struct usm_policy_node *victims[256];
	size_t got = usm_policy_pick(p, victims, (size_t)n);

	for (size_t i = 0; i < got; i++)
		usm_policy_inserted(p, victims[i]);
}

static void refault_without_refaults_is_fifo(void **state)
{
	struct usm_policy *p = create("refault", NULL);

	insert(p, 0, 4);
	assert_string_equal(picked(p, 2), "0 1");
	insert(p, 5, 5);
	assert_string_equal(picked(p, 10), "2 3 4 5");
	usm_policy_destroy(p);
}

/* 0..5 resident; 0 is evicted and back after 1 eviction (< 5 resident):
 * protected, so the next picks take the ring's oldest first. */
static void refault_protects_a_page_back_within_its_distance(void **state)
{
	struct usm_policy *p = create("refault", NULL);

	insert(p, 0, 5);
	assert_string_equal(picked(p, 1), "0");
	insert(p, 0, 0);
	assert_true(nodes[0].hot);
	assert_string_equal(picked(p, 5), "1 2 3 4 5");
	assert_string_equal(picked(p, 1), "0"); /* the ring is empty: protected go last */
	usm_policy_destroy(p);
}

/* 0 is evicted, then 3 more evictions while 3 pages are resident: its
 * distance (3) is not below what is resident, so it is a page of a scan. */
static void refault_does_not_protect_a_page_back_too_late(void **state)
{
	struct usm_policy *p = create("refault", NULL);

	insert(p, 0, 3);
	assert_string_equal(picked(p, 1), "0");
	insert(p, 4, 6);
	assert_string_equal(picked(p, 3), "1 2 3"); /* 4 5 6 resident */
	insert(p, 0, 0);
	assert_false(nodes[0].hot);
	assert_string_equal(picked(p, 4), "4 5 6 0");
	usm_policy_destroy(p);
}

/* A hot set of 3 pages evicted and faulted straight back, then a scan of
 * 200 new pages through the 8 resident: the scan never evicts the hot set. */
static void refault_scan_does_not_evict_the_hot_set(void **state)
{
	static struct usm_policy_node scan[200];
	struct usm_policy_node *victim;
	struct usm_policy *p = create("refault", NULL);

	memset(scan, 0, sizeof(scan));
	insert(p, 0, 7);
	evict_and_refault(p, 3); /* 0 1 2 */
	for (int i = 0; i < 3; i++)
		assert_true(nodes[i].hot);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(usm_policy_pick(p, &victim, 1), 1);
		assert_false(victim >= nodes && victim <= nodes + 2);
		usm_policy_inserted(p, &scan[i]);
	}
	for (int i = 0; i < 3; i++)
		assert_true(nodes[i].linked && nodes[i].hot);
	assert_int_equal(usm_policy_count(p), 8);
	usm_policy_destroy(p);
}

/* Protecting more than 90% of what is resident sends the oldest protected
 * page back to the ring, as its newest: of 100 resident, each is evicted
 * and back at once, one after the other; the 91st protected sends the
 * first back, and so on. */
#define CAP_TEST 100

static void refault_protects_at_most_nine_tenths(void **state)
{
	static struct usm_policy_node many[CAP_TEST];
	struct usm_policy_node *victims[CAP_TEST];
	struct usm_policy *p = create("refault", NULL);

	memset(many, 0, sizeof(many));
	for (int i = 0; i < CAP_TEST; i++)
		usm_policy_inserted(p, &many[i]);
	for (int i = 0; i < CAP_TEST; i++) {
		assert_int_equal(usm_policy_pick(p, victims, 1), 1);
		assert_ptr_equal(victims[0], &many[i]);
		usm_policy_inserted(p, victims[0]);
	}
	int hot = 0;
	for (int i = 0; i < CAP_TEST; i++)
		hot += many[i].hot;
	assert_int_equal(hot, 90);
	assert_int_equal(usm_policy_count(p), CAP_TEST);
	/* the ring: the ten oldest protected, sent back in order */
	assert_int_equal(usm_policy_pick(p, victims, 10), 10);
	for (int i = 0; i < 10; i++)
		assert_ptr_equal(victims[i], &many[i]);
	usm_policy_destroy(p);
}

/* A page written while in the ring (the pager's write-protect fault) is
 * protected when the pick reaches it, instead of evicted. */
static void refault_protects_a_written_page_at_the_pick(void **state)
{
	struct usm_policy *p = create("refault", NULL);

	insert(p, 0, 3);
	usm_policy_accessed(p, &nodes[0]);
	assert_string_equal(picked(p, 1), "1");
	assert_true(nodes[0].hot);
	assert_string_equal(picked(p, 3), "2 3 0");
	usm_policy_destroy(p);
}

/* The history of evicted pages lives in their own nodes: a node removed
 * (unmapped, pinned) forgets it, so coming back is no refault. */
static void refault_forgets_the_history_of_removed_nodes(void **state)
{
	struct usm_policy *p = create("refault", NULL);

	insert(p, 0, 5);
	assert_string_equal(picked(p, 1), "0");
	assert_int_not_equal(nodes[0].evicted_at, 0);
	usm_policy_removed(p, &nodes[0]);
	assert_int_equal(nodes[0].evicted_at, 0);
	insert(p, 0, 0);
	assert_false(nodes[0].hot);
	usm_policy_destroy(p);
}

/* Switching away from refault puts its protected nodes in the ring, so the
 * next policy sees every resident node. */
static void refault_switch_keeps_every_node(void **state)
{
	struct usm_policy *p = create("refault", NULL);

	insert(p, 0, 5);
	evict_and_refault(p, 2); /* 0 1 protected */
	assert_true(nodes[0].hot);
	assert_int_equal(usm_policy_switch(p, "fifo"), 0);
	assert_false(nodes[0].hot);
	assert_int_equal(usm_policy_count(p), 6);
	assert_string_equal(picked(p, 10), "2 3 4 5 0 1");
	usm_policy_destroy(p);
}

static void create_rejects_unknown_names(void **state)
{
	struct usm_policy *p = NULL;

	assert_int_equal(usm_policy_create("lru", NULL, NULL, &p), -EINVAL);
	assert_int_equal(usm_policy_create("", NULL, NULL, &p), -EINVAL);
	assert_int_equal(usm_policy_create("FIFO", NULL, NULL, &p), -EINVAL);
	assert_int_equal(usm_policy_create(NULL, NULL, NULL, &p), -EINVAL);
	assert_null(p);
	assert_non_null(strstr(usm_policy_kinds(), "fifo"));
	assert_non_null(strstr(usm_policy_kinds(), "clock"));
	assert_non_null(strstr(usm_policy_kinds(), "refault"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo_picks_in_insertion_order),
		cmocka_unit_test(fifo_ignores_access),
		cmocka_unit_test(removed_nodes_are_never_picked),
		cmocka_unit_test(count_follows_inserts_removes_and_picks),
		cmocka_unit_test(clock_gives_referenced_nodes_a_second_chance),
		cmocka_unit_test(clock_removing_the_node_under_the_hand_moves_the_hand),
		cmocka_unit_test(
			clock_terminates_when_all_are_referenced_and_rearms_exactly_those_it_cleared),
		cmocka_unit_test(clock_does_not_rearm_nodes_it_did_not_reach),
		cmocka_unit_test(refault_without_refaults_is_fifo),
		cmocka_unit_test(refault_protects_a_page_back_within_its_distance),
		cmocka_unit_test(refault_does_not_protect_a_page_back_too_late),
		cmocka_unit_test(refault_scan_does_not_evict_the_hot_set),
		cmocka_unit_test(refault_protects_at_most_nine_tenths),
		cmocka_unit_test(refault_protects_a_written_page_at_the_pick),
		cmocka_unit_test(refault_forgets_the_history_of_removed_nodes),
		cmocka_unit_test(refault_switch_keeps_every_node),
		cmocka_unit_test(create_rejects_unknown_names),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
