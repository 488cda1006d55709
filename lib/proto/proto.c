/* The usmd protocol: checks, framing and the default socket (see
 * lib/proto/proto.h and docs/protocol.md). Used by usmd, the tagger and
 * usm status; it allocates nothing, so the tagger may call it from any
 * thread of a managed process. */
#include "proto/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/page.h"

static const struct {
	const char *name;
	size_t size;                  /* the payload's size; STATUS: its fixed part */
} types[USM_MSG_TYPE_COUNT] = {
	[USM_MSG_HELLO] = { "HELLO", sizeof(struct usm_msg_hello) },
	[USM_MSG_WELCOME] = { "WELCOME", sizeof(struct usm_msg_welcome) },
	[USM_MSG_ERROR] = { "ERROR", sizeof(struct usm_msg_error) },
	[USM_MSG_LEASE] = { "LEASE", sizeof(struct usm_msg_amount) },
	[USM_MSG_GRANT] = { "GRANT", sizeof(struct usm_msg_amount) },
	[USM_MSG_RECLAIM] = { "RECLAIM", sizeof(struct usm_msg_amount) },
	[USM_MSG_RECLAIMED] = { "RECLAIMED", sizeof(struct usm_msg_amount) },
	[USM_MSG_RELEASE] = { "RELEASE", sizeof(struct usm_msg_amount) },
	[USM_MSG_STATS] = { "STATS", sizeof(struct usm_msg_stats) },
	[USM_MSG_HINT] = { "HINT", sizeof(struct usm_msg_hint) },
	[USM_MSG_SET_POLICY] = { "SET_POLICY", sizeof(struct usm_msg_set_policy) },
	[USM_MSG_BYE] = { "BYE", 0 },
	[USM_MSG_STATUS_REQ] = { "STATUS_REQ", 0 },
	[USM_MSG_STATUS] = { "STATUS", sizeof(struct usm_status_pool) },
	[USM_MSG_STORE] = { "STORE", sizeof(struct usm_msg_store) },
};

void usm_msg_stats_fill(struct usm_msg_stats *m, const struct usm_pager_stats *s)
{
	memset(m, 0, sizeof(*m));
#define WIRE_(name) m->name = s->name;
#define ROW_(name) WIRE_(name)
#define LOCAL_(name)
#define FILL_(name, wire, merge, run_key) wire##_(name)
	USM_PAGER_STAT_FIELDS(FILL_)
#undef FILL_
#undef LOCAL_
#undef ROW_
#undef WIRE_
}

const char *usm_msg_type_name(unsigned type)
{
	return type && type < USM_MSG_TYPE_COUNT ? types[type].name : "unknown";
}

int usm_msg_check_header(const struct usm_msg_header *h)
{
	if (h->magic != USM_PROTO_MAGIC)
		return -EPROTO;
	if (h->version != USM_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h->type == 0 || h->type >= USM_MSG_TYPE_COUNT)
		return -EBADMSG;
	if (h->type == USM_MSG_STATUS) {
		size_t rows = sizeof(struct usm_status_row);
		if (h->length < types[h->type].size || h->length > USM_PROTO_MAX_PAYLOAD ||
		    (h->length - types[h->type].size) % rows)
			return -EMSGSIZE;
		return 0;
	}
	return h->length == types[h->type].size ? 0 : -EMSGSIZE;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool frames(uint64_t bytes)
{
	return bytes % USM_PAGE_SIZE == 0;
}

/* Terminated, starting with start, and made of bytes ok takes. */
static bool text_of(const char *s, size_t size, const char *start, bool (*ok)(unsigned char))
{
	size_t n = strlen(start);

	if (!terminated(s, size) || strncmp(s, start, n))
		return false;
	for (; s[n]; n++)
		if (!ok((unsigned char)s[n]))
			return false;
	return true;
}

/* A spec names servers and files: no control characters (a line of its
 * own in usmd's log). */
static bool spec_char(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

/* A memcached key as usm writes them: letters, digits, ". - _ :". */
static bool key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_' || c == ':';
}

int usm_msg_check_payload(const struct usm_msg_header *h, const void *payload)
{
	bool ok = true;

	switch (h->type) {
	case USM_MSG_HELLO: {
		const struct usm_msg_hello *m = payload;
		ok = (m->role == USM_ROLE_CLIENT || m->role == USM_ROLE_MONITOR) &&
		     terminated(m->name, sizeof(m->name)) && terminated(m->policy, sizeof(m->policy)) &&
		     m->page_size % USM_PAGE_SIZE == 0 && frames(m->limit) &&
		     frames(m->min_grant) && frames(m->resident);
		break;
	}
	case USM_MSG_WELCOME: {
		const struct usm_msg_welcome *m = payload;
		ok = frames(m->grant) && frames(m->limit) && terminated(m->policy, sizeof(m->policy)) &&
		     terminated(m->store, sizeof(m->store));
		break;
	}
	case USM_MSG_ERROR:
		ok = terminated(((const struct usm_msg_error *)payload)->text, USM_PROTO_TEXT_MAX);
		break;
	case USM_MSG_LEASE:
	case USM_MSG_GRANT:
	case USM_MSG_RECLAIM:
	case USM_MSG_RECLAIMED:
	case USM_MSG_RELEASE: {
		const struct usm_msg_amount *m = payload;
		ok = frames(m->bytes) && frames(m->grant);
		break;
	}
	case USM_MSG_STATS:
		ok = terminated(((const struct usm_msg_stats *)payload)->policy, USM_PROTO_POLICY_MAX);
		break;
	case USM_MSG_HINT: {
		const struct usm_msg_hint *m = payload;
		ok = m->kind >= USM_HINT_WILLNEED && m->kind < USM_HINT_KIND_COUNT;
		break;
	}
	case USM_MSG_SET_POLICY:
		ok = terminated(((const struct usm_msg_set_policy *)payload)->policy,
				USM_PROTO_POLICY_MAX);
		break;
	case USM_MSG_STORE: {
		const struct usm_msg_store *m = payload;
		ok = text_of(m->spec, sizeof(m->spec), "memcached:", spec_char) &&
		     text_of(m->prefix, sizeof(m->prefix), "usm:", key_char);
		break;
	}
	case USM_MSG_STATUS: {
		const struct usm_status_pool *pool = payload;
		const struct usm_status_row *rows = (const void *)(pool + 1);
		size_t n = (h->length - sizeof(*pool)) / sizeof(*rows);
		ok = pool->clients == n && terminated(pool->policy, sizeof(pool->policy));
		for (size_t i = 0; ok && i < n; i++)
			ok = terminated(rows[i].name, sizeof(rows[i].name)) &&
			     terminated(rows[i].policy, sizeof(rows[i].policy));
		break;
	}
	default:
		break;
	}
	return ok ? 0 : -EBADMSG;
}

int usm_msg_send(int fd, unsigned type, uint32_t seq, const void *payload, size_t len)
{
	struct usm_msg_header h = {
		.magic = USM_PROTO_MAGIC, .version = USM_PROTO_VERSION,
		.type = (uint16_t)type, .length = (uint32_t)len, .seq = seq,
	};
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	size_t total = sizeof(h) + len, sent = 0;

	if (len > USM_PROTO_MAX_PAYLOAD)
		return -EMSGSIZE;
	while (sent < total) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && sent > 0) {
				/* a message is never left half sent: wait for room */
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				if (poll(&p, 1, 1000) <= 0)
					return -ETIMEDOUT;
				continue;
			}
			return -errno;
		}
		sent += (size_t)n;
		while (n > 0 && msg.msg_iovlen) {
			size_t step = (size_t)n < msg.msg_iov->iov_len ? (size_t)n : msg.msg_iov->iov_len;
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + step;
			msg.msg_iov->iov_len -= step;
			n -= (ssize_t)step;
			if (!msg.msg_iov->iov_len) {
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
	return 0;
}

/* A whole, checked message at the start of r's buffer: 1, 0 (incomplete)
 * or -errno. */
static int whole_message(struct usm_msg_reader *r, const struct usm_msg_header **h,
			 const void **payload)
{
	const struct usm_msg_header *head = &r->buf.header;
	int rc;

	if (r->have < sizeof(*head))
		return 0;
	rc = usm_msg_check_header(head);
	if (rc < 0)
		return rc;
	if (r->have < sizeof(*head) + head->length)
		return 0;
	rc = usm_msg_check_payload(head, r->buf.bytes + sizeof(*head));
	if (rc < 0)
		return rc;
	*h = head;
	*payload = r->buf.bytes + sizeof(*head);
	r->consumed = sizeof(*head) + head->length;
	return 1;
}

/* Drops the message reported last, then reports the next one if it is
 * already whole in r. */
static int buffered_message(struct usm_msg_reader *r, const struct usm_msg_header **h,
			    const void **payload)
{
	if (r->consumed) {
		memmove(r->buf.bytes, r->buf.bytes + r->consumed, r->have - r->consumed);
		r->have -= r->consumed;
		r->consumed = 0;
	}
	return whole_message(r, h, payload);
}

int usm_msg_read(int fd, struct usm_msg_reader *r, const struct usm_msg_header **h,
		 const void **payload)
{
	ssize_t n;
	int rc;

	rc = buffered_message(r, h, payload);
	if (rc)
		return rc;
	do {
		n = read(fd, r->buf.bytes + r->have, sizeof(r->buf.bytes) - r->have);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	r->have += (size_t)n;
	return whole_message(r, h, payload);
}

int usm_msg_read_timeout(int fd, struct usm_msg_reader *r, int timeout_ms,
			 const struct usm_msg_header **h, const void **payload)
{
	long long deadline = (long long)usm_now_ms() + timeout_ms; /* signed: left goes below 0 */

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left;
		int rc;

		rc = buffered_message(r, h, payload); /* a message already here needs no wait */
		if (rc)
			return rc;
		left = deadline - (long long)usm_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		rc = usm_msg_read(fd, r, h, payload);
		if (rc)
			return rc;
	}
}

int usm_daemon_socket_path(char *out, size_t len)
{
	const char *env = getenv("USM_SOCKET"), *runtime = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(out, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(out, len, "/run/usm/usmd.sock");
	else if (runtime && *runtime)
		n = snprintf(out, len, "%s/usm/usmd.sock", runtime);
	else
		n = snprintf(out, len, "/tmp/usm-%u/usmd.sock", (unsigned)geteuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int usm_daemon_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}
