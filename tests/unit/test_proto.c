/* The usmd protocol's framing (lib/proto.c): header and payload checks,
 * sending, and the reader's reassembly of split and coalesced messages
 * through a socketpair. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include "proto/proto.h"

static struct usm_msg_header header(unsigned type, uint32_t length)
{
	return (struct usm_msg_header){.magic = USM_PROTO_MAGIC,
	                               .version = USM_PROTO_VERSION,
	                               .type = (uint16_t)type,
	                               .length = length};
}

static void headers_of_every_type_are_checked(void **state)
{
	static const struct {
		unsigned type;
		size_t size;
	} sizes[] = {
	        {USM_MSG_HELLO, sizeof(struct usm_msg_hello)},
	        {USM_MSG_WELCOME, sizeof(struct usm_msg_welcome)},
	        {USM_MSG_ERROR, sizeof(struct usm_msg_error)},
	        {USM_MSG_LEASE, sizeof(struct usm_msg_amount)},
	        {USM_MSG_GRANT, sizeof(struct usm_msg_amount)},
	        {USM_MSG_RECLAIM, sizeof(struct usm_msg_amount)},
	        {USM_MSG_RECLAIMED, sizeof(struct usm_msg_amount)},
	        {USM_MSG_RELEASE, sizeof(struct usm_msg_amount)},
	        {USM_MSG_STATS, sizeof(struct usm_msg_stats)},
	        {USM_MSG_HINT, sizeof(struct usm_msg_hint)},
	        {USM_MSG_SET_POLICY, sizeof(struct usm_msg_set_policy)},
	        {USM_MSG_BYE, 0},
	        {USM_MSG_STATUS_REQ, 0},
	        {USM_MSG_STORE, sizeof(struct usm_msg_store)},
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct usm_msg_header h = header(sizes[i].type, (uint32_t)sizes[i].size);
		assert_int_equal(usm_msg_check_header(&h), 0);
		h.length++;
		assert_int_equal(usm_msg_check_header(&h), -EMSGSIZE);
		h.length = USM_PROTO_MAX_PAYLOAD + 1;
		assert_int_equal(usm_msg_check_header(&h), -EMSGSIZE);
		assert_string_not_equal(usm_msg_type_name(sizes[i].type), "unknown");
	}
	assert_string_equal(usm_msg_type_name(USM_MSG_LEASE), "LEASE");
	assert_string_equal(usm_msg_type_name(0), "unknown");
	assert_string_equal(usm_msg_type_name(USM_MSG_TYPE_COUNT), "unknown");
}

static void bad_magic_version_and_type(void **state)
{
	struct usm_msg_header h = header(USM_MSG_BYE, 0);

	h.magic = 0x12345678;
	assert_int_equal(usm_msg_check_header(&h), -EPROTO);
	h = header(USM_MSG_BYE, 0);
	h.version = USM_PROTO_VERSION + 1;
	assert_int_equal(usm_msg_check_header(&h), -EPROTONOSUPPORT);
	h.version = USM_PROTO_VERSION - 1; /* a tagger of the build before STORE */
	assert_int_equal(usm_msg_check_header(&h), -EPROTONOSUPPORT);
	h = header(0, 0);
	assert_int_equal(usm_msg_check_header(&h), -EBADMSG);
	h = header(USM_MSG_TYPE_COUNT, 0);
	assert_int_equal(usm_msg_check_header(&h), -EBADMSG);
	h = header(0xffff, 0);
	assert_int_equal(usm_msg_check_header(&h), -EBADMSG);
}

static void status_length_is_a_whole_number_of_rows(void **state)
{
	size_t fixed = sizeof(struct usm_status_pool), row = sizeof(struct usm_status_row);
	struct usm_msg_header h = header(USM_MSG_STATUS, (uint32_t)fixed);

	assert_int_equal(usm_msg_check_header(&h), 0);
	h.length = (uint32_t)(fixed + 3 * row);
	assert_int_equal(usm_msg_check_header(&h), 0);
	h.length = (uint32_t)(fixed + USM_STATUS_MAX_ROWS * row);
	assert_int_equal(usm_msg_check_header(&h), 0);
	h.length = (uint32_t)(fixed + row + 1);
	assert_int_equal(usm_msg_check_header(&h), -EMSGSIZE);
	h.length = (uint32_t)(fixed - 1);
	assert_int_equal(usm_msg_check_header(&h), -EMSGSIZE);
	h.length = (uint32_t)(fixed + (USM_STATUS_MAX_ROWS + 1) * row);
	assert_int_equal(usm_msg_check_header(&h), -EMSGSIZE);
}

/* STATS is generated from USM_PAGER_STAT_FIELDS: its layout must stay the
 * one docs/protocol.md gives, and the fill must copy every wire field. */
static void stats_keeps_the_documented_layout_and_is_filled(void **state)
{
	static const struct {
		size_t offset, expected;
	} at[] = {
	        {offsetof(struct usm_msg_stats, resident), 0},
	        {offsetof(struct usm_msg_stats, peak_resident), 8},
	        {offsetof(struct usm_msg_stats, first_touch), 16},
	        {offsetof(struct usm_msg_stats, refaults), 24},
	        {offsetof(struct usm_msg_stats, evictions), 32},
	        {offsetof(struct usm_msg_stats, bytes_to_store), 40},
	        {offsetof(struct usm_msg_stats, bytes_from_store), 48},
	        {offsetof(struct usm_msg_stats, latency_p50_ns), 56},
	        {offsetof(struct usm_msg_stats, latency_p99_ns), 64},
	        {offsetof(struct usm_msg_stats, limit), 72},
	        {offsetof(struct usm_msg_stats, store_memory), 80},
	        {offsetof(struct usm_msg_stats, store_disk), 88},
	        {offsetof(struct usm_msg_stats, metadata), 96},
	        {offsetof(struct usm_msg_stats, policy), 104},
	};
	struct usm_pager_stats s = {.resident = 1, .peak_resident = 2, .first_touch = 3,
	                            .refaults = 4, .evictions = 5, .bytes_to_store = 6,
	                            .bytes_from_store = 7, .latency_p50_ns = 8,
	                            .latency_p99_ns = 9, .limit = 10, .first_write_faults = 11};
	struct usm_msg_stats m;

	assert_int_equal(sizeof(struct usm_msg_stats), 120);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		assert_int_equal(at[i].offset, at[i].expected);
	memset(&m, 0xff, sizeof(m));
	usm_msg_stats_fill(&m, &s);
	assert_int_equal(m.resident, 1);
	assert_int_equal(m.peak_resident, 2);
	assert_int_equal(m.first_touch, 3);
	assert_int_equal(m.refaults, 4);
	assert_int_equal(m.evictions, 5);
	assert_int_equal(m.bytes_to_store, 6);
	assert_int_equal(m.bytes_from_store, 7);
	assert_int_equal(m.latency_p50_ns, 8);
	assert_int_equal(m.latency_p99_ns, 9);
	assert_int_equal(m.limit, 10);
	assert_int_equal(m.policy[0], '\0');
}

static void hello_payload_checks(void **state)
{
	struct usm_msg_header h = header(USM_MSG_HELLO, sizeof(struct usm_msg_hello));
	struct usm_msg_hello m = {.pid = 1,
	                          .role = USM_ROLE_CLIENT,
	                          .name = "prog",
	                          .page_size = 65536,
	                          .limit = 1 << 20,
	                          .min_grant = 8192,
	                          .policy = "clock"};
	struct usm_msg_hello bad;

	assert_int_equal(usm_msg_check_payload(&h, &m), 0);
	m.role = USM_ROLE_MONITOR;
	assert_int_equal(usm_msg_check_payload(&h, &m), 0);
	bad = m;
	bad.role = 3;
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	bad = m;
	memset(bad.name, 'x', sizeof(bad.name));
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	bad = m;
	memset(bad.policy, 'x', sizeof(bad.policy));
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	bad = m;
	bad.page_size = 1000;
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	bad = m;
	bad.limit = 4097;
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	bad = m;
	bad.min_grant = 1;
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	bad = m;
	bad.resident = 100;
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
}

static void other_payload_checks(void **state)
{
	struct usm_msg_header h;
	struct usm_msg_amount a = {.bytes = 3 * 4096, .grant = 0};
	struct usm_msg_hint hint = {.kind = USM_HINT_PIN, .bytes = 123};
	struct usm_msg_error e = {.code = 1, .text = "no"};
	struct usm_msg_welcome w = {.grant = 4096, .store = "mem:zstd"};
	struct usm_msg_stats st = {.policy = "fifo"};
	struct usm_msg_set_policy sp = {.policy = "clock"};

	h = header(USM_MSG_LEASE, sizeof(a));
	assert_int_equal(usm_msg_check_payload(&h, &a), 0);
	a.bytes = 4095;
	assert_int_equal(usm_msg_check_payload(&h, &a), -EBADMSG);
	a.bytes = 4096;
	a.grant = 1;
	h.type = USM_MSG_GRANT;
	assert_int_equal(usm_msg_check_payload(&h, &a), -EBADMSG);

	h = header(USM_MSG_HINT, sizeof(hint));
	assert_int_equal(usm_msg_check_payload(&h, &hint), 0); /* a range: any length */
	hint.kind = 0;
	assert_int_equal(usm_msg_check_payload(&h, &hint), -EBADMSG);
	hint.kind = USM_HINT_KIND_COUNT;
	assert_int_equal(usm_msg_check_payload(&h, &hint), -EBADMSG);

	h = header(USM_MSG_ERROR, sizeof(e));
	assert_int_equal(usm_msg_check_payload(&h, &e), 0);
	memset(e.text, 'x', sizeof(e.text));
	assert_int_equal(usm_msg_check_payload(&h, &e), -EBADMSG);

	h = header(USM_MSG_WELCOME, sizeof(w));
	assert_int_equal(usm_msg_check_payload(&h, &w), 0);
	memset(w.store, 'x', sizeof(w.store));
	assert_int_equal(usm_msg_check_payload(&h, &w), -EBADMSG);

	h = header(USM_MSG_STATS, sizeof(st));
	assert_int_equal(usm_msg_check_payload(&h, &st), 0);
	memset(st.policy, 'x', sizeof(st.policy));
	assert_int_equal(usm_msg_check_payload(&h, &st), -EBADMSG);

	h = header(USM_MSG_SET_POLICY, sizeof(sp));
	assert_int_equal(usm_msg_check_payload(&h, &sp), 0);
	memset(sp.policy, 'x', sizeof(sp.policy));
	assert_int_equal(usm_msg_check_payload(&h, &sp), -EBADMSG);
}

/* What usmd may be made to delete is a whole process's keys of usm's
 * naming: the prefix and spec are checked byte by byte. */
static void store_payload_checks(void **state)
{
	struct usm_msg_header h = header(USM_MSG_STORE, sizeof(struct usm_msg_store));
	static struct usm_msg_store m = {.spec = "memcached:10.0.0.1:11211,replicas=0,sasl=/a b",
	                                 .prefix = "usm:box-1.lan:1a2b-ff:42.9f:"};
	static const char *bad_prefixes[] = {
		"", "usm", "evil:usm:", "USM:x:", "usm:x y:", "usm:x\r\ndelete", "usm:x/",
		"usm:x%3A", "usm:\x80", NULL,
	};
	static const char *bad_specs[] = {
		"", "mem", "file:/tmp/x", "memcached", "memcached:a:1\n", "memcached:a:1\x7f", NULL,
	};
	static struct usm_msg_store bad;

	assert_int_equal(sizeof(m), 4096 + 128);
	assert_int_equal(usm_msg_check_payload(&h, &m), 0);
	for (int i = 0; bad_prefixes[i]; i++) {
		bad = m;
		snprintf(bad.prefix, sizeof(bad.prefix), "%s", bad_prefixes[i]);
		assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	}
	for (int i = 0; bad_specs[i]; i++) {
		bad = m;
		snprintf(bad.spec, sizeof(bad.spec), "%s", bad_specs[i]);
		assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	}
	bad = m;
	memset(bad.prefix, 'u', sizeof(bad.prefix));
	memcpy(bad.prefix, "usm:", 4);
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
	bad = m;
	memset(bad.spec + 10, 'a', sizeof(bad.spec) - 10);
	assert_int_equal(usm_msg_check_payload(&h, &bad), -EBADMSG);
}

static void status_payload_checks(void **state)
{
	struct {
		struct usm_status_pool pool;
		struct usm_status_row rows[2];
	} s = {.pool = {.clients = 2, .policy = "fair"},
	       .rows = {{.name = "a", .policy = "clock"}, {.name = "b", .policy = "fifo"}}};
	struct usm_msg_header h = header(USM_MSG_STATUS, sizeof(s));

	assert_int_equal(usm_msg_check_payload(&h, &s), 0);
	s.pool.clients = 3; /* more rows said than sent */
	assert_int_equal(usm_msg_check_payload(&h, &s), -EBADMSG);
	s.pool.clients = 2;
	memset(s.rows[1].name, 'x', sizeof(s.rows[1].name));
	assert_int_equal(usm_msg_check_payload(&h, &s), -EBADMSG);
}

/* ---- framing through a socketpair ---- */

static int pair[2];

static int open_pair(void **state)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return -1;
	fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK);
	return 0;
}

static int close_pair(void **state)
{
	close(pair[0]);
	if (pair[1] >= 0)
		close(pair[1]);
	return 0;
}

static struct usm_msg_reader *new_reader(void)
{
	struct usm_msg_reader *r = malloc(sizeof(*r));

	assert_non_null(r);
	r->have = r->consumed = 0;
	return r;
}

/* The bytes usm_msg_send would write, built by hand. */
static size_t frame(uint8_t *buf, unsigned type, uint32_t seq, const void *payload, size_t len)
{
	struct usm_msg_header h = header(type, (uint32_t)len);

	h.seq = seq;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	return sizeof(h) + len;
}

static void one_message_round_trips(void **state)
{
	struct usm_msg_reader *r = new_reader();
	struct usm_msg_amount a = {.bytes = 1 << 20}, *got;
	const struct usm_msg_header *h;
	const void *payload;

	assert_int_equal(usm_msg_send(pair[0], USM_MSG_LEASE, 7, &a, sizeof(a)), 0);
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 1);
	assert_int_equal(h->type, USM_MSG_LEASE);
	assert_int_equal(h->seq, 7);
	assert_int_equal(h->length, sizeof(a));
	got = (struct usm_msg_amount *)payload;
	assert_int_equal(got->bytes, 1 << 20);
	/* nothing more: a non-blocking reader says "need more" */
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 0);
	free(r);
}

static void split_messages_are_reassembled(void **state)
{
	struct usm_msg_reader *r = new_reader();
	struct usm_msg_hint hint = {.kind = USM_HINT_COLD, .bytes = 12345};
	const struct usm_msg_header *h;
	const void *payload;
	uint8_t buf[64];
	size_t n = frame(buf, USM_MSG_HINT, 1, &hint, sizeof(hint));

	/* a byte at a time: incomplete until the last one */
	for (size_t i = 0; i + 1 < n; i++) {
		assert_int_equal(write(pair[0], buf + i, 1), 1);
		assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 0);
	}
	assert_int_equal(write(pair[0], buf + n - 1, 1), 1);
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 1);
	assert_int_equal(h->type, USM_MSG_HINT);
	assert_int_equal(((const struct usm_msg_hint *)payload)->bytes, 12345);
	free(r);
}

static void coalesced_messages_come_out_one_by_one(void **state)
{
	struct usm_msg_reader *r = new_reader();
	struct usm_msg_amount a = {.bytes = 4096}, b = {.bytes = 8192};
	const struct usm_msg_header *h;
	const void *payload;
	uint8_t buf[256];
	size_t n = 0;

	n += frame(buf + n, USM_MSG_RELEASE, 1, &a, sizeof(a));
	n += frame(buf + n, USM_MSG_BYE, 2, NULL, 0);
	n += frame(buf + n, USM_MSG_LEASE, 3, &b, sizeof(b));
	/* and half of a fourth */
	n += frame(buf + n, USM_MSG_LEASE, 4, &b, sizeof(b)) - 10;
	assert_int_equal(write(pair[0], buf, n), (ssize_t)n);

	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 1);
	assert_int_equal(h->type, USM_MSG_RELEASE);
	assert_int_equal(((const struct usm_msg_amount *)payload)->bytes, 4096);
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 1);
	assert_int_equal(h->type, USM_MSG_BYE);
	assert_int_equal(h->seq, 2);
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 1);
	assert_int_equal(h->type, USM_MSG_LEASE);
	assert_int_equal(((const struct usm_msg_amount *)payload)->bytes, 8192);
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 0);
	/* the rest of the fourth completes it */
	frame(buf, USM_MSG_LEASE, 4, &b, sizeof(b));
	assert_int_equal(write(pair[0], buf + sizeof(struct usm_msg_header) + sizeof(b) - 10, 10),
	                 10);
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), 1);
	assert_int_equal(h->seq, 4);
	/* the peer leaves: end of stream */
	close(pair[0]);
	pair[0] = socket(AF_UNIX, SOCK_STREAM, 0); /* for close_pair */
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), -ECONNRESET);
	free(r);
}

static void an_oversized_length_is_refused_from_the_header(void **state)
{
	struct usm_msg_reader *r = new_reader();
	struct usm_msg_header bad = header(USM_MSG_LEASE, 1 << 30);
	const struct usm_msg_header *h;
	const void *payload;

	/* an oversized length is refused from the header alone */
	assert_int_equal(write(pair[0], &bad, sizeof(bad)), (ssize_t)sizeof(bad));
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), -EMSGSIZE);
	free(r);
}

static void a_malformed_payload_is_reported(void **state)
{
	struct usm_msg_reader *r = new_reader();
	struct usm_msg_hint hint = {.kind = 99};
	const struct usm_msg_header *h;
	const void *payload;
	uint8_t buf[64];
	size_t n = frame(buf, USM_MSG_HINT, 1, &hint, sizeof(hint));

	assert_int_equal(write(pair[0], buf, n), (ssize_t)n);
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), -EBADMSG);
	free(r);
}

static void a_wrong_version_is_reported(void **state)
{
	struct usm_msg_reader *r = new_reader();
	struct usm_msg_header bad = header(USM_MSG_BYE, 0);
	const struct usm_msg_header *h;
	const void *payload;

	bad.version = USM_PROTO_VERSION + 1;
	assert_int_equal(write(pair[0], &bad, sizeof(bad)), (ssize_t)sizeof(bad));
	assert_int_equal(usm_msg_read(pair[1], r, &h, &payload), -EPROTONOSUPPORT);
	free(r);
}

static void read_timeout_uses_what_is_buffered(void **state)
{
	struct usm_msg_reader *r = new_reader();
	const struct usm_msg_header *h;
	const void *payload;
	uint8_t buf[64];
	size_t n = 0;

	/* nothing comes: it gives up */
	assert_int_equal(usm_msg_read_timeout(pair[1], r, 20, &h, &payload), -ETIMEDOUT);
	n += frame(buf + n, USM_MSG_BYE, 1, NULL, 0);
	n += frame(buf + n, USM_MSG_STATUS_REQ, 2, NULL, 0);
	assert_int_equal(write(pair[0], buf, n), (ssize_t)n);
	assert_int_equal(usm_msg_read_timeout(pair[1], r, 5000, &h, &payload), 1);
	assert_int_equal(h->type, USM_MSG_BYE);
	/* the second is already in the buffer, the socket is empty */
	assert_int_equal(usm_msg_read_timeout(pair[1], r, 5000, &h, &payload), 1);
	assert_int_equal(h->type, USM_MSG_STATUS_REQ);
	assert_int_equal(usm_msg_read_timeout(pair[1], r, 20, &h, &payload), -ETIMEDOUT);
	free(r);
}

static void send_refuses_oversized_and_survives_a_gone_peer(void **state)
{
	static uint8_t big[USM_PROTO_MAX_PAYLOAD + 1];

	assert_int_equal(usm_msg_send(pair[0], USM_MSG_STATUS, 1, big, sizeof(big)), -EMSGSIZE);
	close(pair[1]);
	pair[1] = -1;
	/* no SIGPIPE: the test would die */
	assert_int_equal(usm_msg_send(pair[0], USM_MSG_BYE, 1, NULL, 0), -EPIPE);
}

static void socket_path_and_connect(void **state)
{
	char path[128], tiny[8];

	setenv("USM_SOCKET", "/tmp/some/usmd.sock", 1);
	assert_int_equal(usm_daemon_socket_path(path, sizeof(path)), 0);
	assert_string_equal(path, "/tmp/some/usmd.sock");
	assert_int_equal(usm_daemon_socket_path(tiny, sizeof(tiny)), -ENAMETOOLONG);
	unsetenv("USM_SOCKET");
	assert_int_equal(usm_daemon_socket_path(path, sizeof(path)), 0);
	if (geteuid() == 0)
		assert_string_equal(path, "/run/usm/usmd.sock");
	else
		assert_non_null(strstr(path, "/usmd.sock"));
	assert_int_equal(usm_daemon_connect("/nonexistent/usm/usmd.sock"), -ENOENT);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(usm_daemon_connect(path), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(headers_of_every_type_are_checked),
	        cmocka_unit_test(bad_magic_version_and_type),
	        cmocka_unit_test(status_length_is_a_whole_number_of_rows),
	        cmocka_unit_test(stats_keeps_the_documented_layout_and_is_filled),
	        cmocka_unit_test(hello_payload_checks),
	        cmocka_unit_test(store_payload_checks),
	        cmocka_unit_test(other_payload_checks),
	        cmocka_unit_test(status_payload_checks),
	        cmocka_unit_test_setup_teardown(one_message_round_trips, open_pair, close_pair),
	        cmocka_unit_test_setup_teardown(split_messages_are_reassembled, open_pair,
	                                        close_pair),
	        cmocka_unit_test_setup_teardown(coalesced_messages_come_out_one_by_one, open_pair,
	                                        close_pair),
	        cmocka_unit_test_setup_teardown(an_oversized_length_is_refused_from_the_header,
	                                        open_pair, close_pair),
	        cmocka_unit_test_setup_teardown(a_malformed_payload_is_reported, open_pair,
	                                        close_pair),
	        cmocka_unit_test_setup_teardown(a_wrong_version_is_reported, open_pair, close_pair),
	        cmocka_unit_test_setup_teardown(read_timeout_uses_what_is_buffered, open_pair,
	                                        close_pair),
	        cmocka_unit_test_setup_teardown(send_refuses_oversized_and_survives_a_gone_peer,
	                                        open_pair, close_pair),
	        cmocka_unit_test(socket_path_and_connect),
	};
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
