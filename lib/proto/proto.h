/* The usmd protocol: messages between usmd and the taggers (and monitors
 * such as usm status) over a UNIX stream socket. docs/protocol.md is the
 * reference; this header is its code.
 *
 * Every message is a header followed by a payload of a size fixed by its
 * type (STATUS alone is a fixed part plus rows). Integers are in the host's
 * byte order: both ends are on one machine. Sizes are bytes, always whole
 * 4 KiB frames. Strings are NUL-terminated inside their arrays. */
#ifndef USM_PROTO_H
#define USM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <usm/hint.h>  /* enum usm_hint_kind, a HINT message's kind */
#include <usm/stats.h>

#define USM_PROTO_MAGIC       0x314d5355u  /* "USM1" in memory */
#define USM_PROTO_VERSION     3
#define USM_PROTO_MAX_PAYLOAD 65536
#define USM_PROTO_NAME_MAX    16           /* a process name, as comm */
#define USM_PROTO_POLICY_MAX  16
#define USM_PROTO_STORE_MAX   256
#define USM_PROTO_SPEC_MAX    4096         /* a STORE's spec: as long as usm run takes */
#define USM_PROTO_PREFIX_MAX  128
#define USM_PROTO_TEXT_MAX    200

struct usm_msg_header {
	uint32_t magic;
	uint16_t version;
	uint16_t type;            /* enum usm_msg_type */
	uint32_t length;          /* payload bytes that follow */
	uint32_t seq;             /* the sender's count; unused by the receiver but in logs */
};

enum usm_msg_type {
	USM_MSG_HELLO = 1,        /* c->d, first message of every connection */
	USM_MSG_WELCOME,          /* d->c, reply to a client's HELLO */
	USM_MSG_ERROR,            /* d->c, the daemon closes the connection after it */
	USM_MSG_LEASE,            /* c->d, asks for more frames */
	USM_MSG_GRANT,            /* d->c, frames added (0: not now) */
	USM_MSG_RECLAIM,          /* d->c, asks the client to give frames back */
	USM_MSG_RECLAIMED,        /* c->d, reply to RECLAIM once the frames are free */
	USM_MSG_RELEASE,          /* c->d, frames given back unasked */
	USM_MSG_STATS,            /* c->d, periodic figures */
	USM_MSG_HINT,             /* c->d, what the program said of its memory */
	USM_MSG_SET_POLICY,       /* d->c, switch the eviction policy (threshold rule) */
	USM_MSG_BYE,              /* c->d, leaving: everything granted returns to the pool */
	USM_MSG_STATUS_REQ,       /* m->d */
	USM_MSG_STATUS,           /* d->m, the pool and a row per client */
	USM_MSG_STORE,            /* c->d, the shared store it opened and its keys' prefix */
	USM_MSG_TYPE_COUNT
};

enum usm_role { USM_ROLE_CLIENT = 1, USM_ROLE_MONITOR = 2 };

/* Options the user gave usm run for this run, which win over the config. */
enum { USM_SET_LIMIT = 1u << 0, USM_SET_POLICY = 1u << 1, USM_SET_STORE = 1u << 2 };

struct usm_msg_hello {
	uint32_t pid;
	uint32_t role;            /* enum usm_role */
	char name[USM_PROTO_NAME_MAX];
	uint32_t set_by_user;     /* USM_SET_* */
	uint32_t page_size;       /* the client's fault granularity */
	uint64_t limit;           /* the client's own cap (usm run --limit), 0 = none */
	uint64_t min_grant;       /* the least the client can page with */
	uint64_t resident;        /* already resident: a client rejoining a restarted usmd */
	char policy[USM_PROTO_POLICY_MAX];   /* the client's eviction policy */
};

struct usm_msg_welcome {
	uint64_t grant;           /* what the client may keep resident from now on */
	uint64_t limit;           /* its cap from the config, 0 = none (the client's own wins if set) */
	uint32_t stats_interval_ms;
	uint32_t reserved;
	char policy[USM_PROTO_POLICY_MAX];  /* "" = keep the client's own */
	char store[USM_PROTO_STORE_MAX];    /* "" = keep the client's own */
};

struct usm_msg_error {
	int32_t code;             /* a positive errno */
	char text[USM_PROTO_TEXT_MAX];
};

/* LEASE, RELEASE, RECLAIMED: bytes asked for or given back.
 * GRANT, RECLAIM: bytes added or taken, and the client's grant after it. */
struct usm_msg_amount {
	uint64_t bytes;
	uint64_t grant;           /* d->c only: the total now granted; 0 in c->d */
};

/* The WIRE and ROW fields of USM_PAGER_STAT_FIELDS (usm/stats.h), in its order. */
#define USM_MSG_STATS_WIRE_(name) uint64_t name;
#define USM_MSG_STATS_ROW_(name) uint64_t name;
#define USM_MSG_STATS_LOCAL_(name)
#define USM_MSG_STATS_MEMBER_(name, wire, merge, run_key) USM_MSG_STATS_##wire##_(name)
struct usm_msg_stats {
	USM_PAGER_STAT_FIELDS(USM_MSG_STATS_MEMBER_)
	char policy[USM_PROTO_POLICY_MAX];
};
#undef USM_MSG_STATS_MEMBER_
#undef USM_MSG_STATS_LOCAL_
#undef USM_MSG_STATS_ROW_
#undef USM_MSG_STATS_WIRE_
_Static_assert(sizeof(struct usm_msg_stats) == 120, "STATS is 120 bytes (docs/protocol.md)");

/* The STATS message of a pager's figures; policy is left to the caller. */
void usm_msg_stats_fill(struct usm_msg_stats *m, const struct usm_pager_stats *s);

struct usm_msg_hint {
	uint32_t kind;            /* enum usm_hint_kind */
	uint32_t reserved;
	uint64_t bytes;           /* the length of the range */
};

struct usm_msg_set_policy {
	char policy[USM_PROTO_POLICY_MAX];
};

/* A client whose store outlives it (memcached) says where and under which
 * prefix its keys are, so that usmd deletes them if the client ends
 * without BYE. The prefix is one process's, "usm:HOST:RUN:PID.START:". */
struct usm_msg_store {
	char spec[USM_PROTO_SPEC_MAX];      /* "memcached:...", as it opened it */
	char prefix[USM_PROTO_PREFIX_MAX];  /* the start of every key it writes */
};

struct usm_status_pool {
	uint64_t size, granted, resident, free;
	uint32_t clients;         /* rows that follow */
	uint32_t reserved;
	char policy[USM_PROTO_POLICY_MAX];  /* "fair" or "priority" */
};

struct usm_status_row {
	uint32_t pid;
	uint32_t weight;
	int32_t priority;
	uint32_t reserved;
	char name[USM_PROTO_NAME_MAX];
	char policy[USM_PROTO_POLICY_MAX];
	uint64_t grant, limit;
	/* the ROW fields of USM_PAGER_STAT_FIELDS, in the row's own order */
	uint64_t resident, evictions, first_touch, refaults;
	uint64_t latency_p50_ns, latency_p99_ns;
	uint64_t bytes_to_store, bytes_from_store;
	uint64_t store_memory, store_disk, metadata;
};

#define USM_STATUS_MAX_ROWS \
	((USM_PROTO_MAX_PAYLOAD - sizeof(struct usm_status_pool)) / sizeof(struct usm_status_row))

/* Checks a header: 0, or -EPROTO (not our magic), -EPROTONOSUPPORT (another
 * version), -EBADMSG (unknown type), -EMSGSIZE (a length this type never
 * has). */
int usm_msg_check_header(const struct usm_msg_header *h);

/* Checks a whole payload of a checked header: strings terminated, kinds and
 * counts in range. 0 or -EBADMSG. */
int usm_msg_check_payload(const struct usm_msg_header *h, const void *payload);

const char *usm_msg_type_name(unsigned type);

/* Sends one message, whole, or fails: 0 or -errno (-EPIPE when the peer is
 * gone; never SIGPIPE). Blocking sockets block; non-blocking ones may give
 * -EAGAIN with nothing sent. */
int usm_msg_send(int fd, unsigned type, uint32_t seq, const void *payload, size_t len);

/* Reassembles messages from a stream. Feed it with usm_msg_read. */
struct usm_msg_reader {
	size_t have;              /* bytes in buf */
	size_t consumed;          /* the message last reported, dropped by the next call */
	union {
		struct usm_msg_header header;
		uint8_t bytes[sizeof(struct usm_msg_header) + USM_PROTO_MAX_PAYLOAD];
	} buf;
};

/* Reads what fd has (one read) and reports the first whole message:
 * 1 (*h and *payload point into r, valid until the next call), 0 (need more;
 * for a non-blocking fd, nothing to read now), -ECONNRESET at end of stream,
 * or a negative errno from the checks above or from read. A message is
 * consumed by the next call. */
int usm_msg_read(int fd, struct usm_msg_reader *r, const struct usm_msg_header **h,
		 const void **payload);

/* As usm_msg_read, waiting at most timeout_ms for a whole message:
 * -ETIMEDOUT when none came. */
int usm_msg_read_timeout(int fd, struct usm_msg_reader *r, int timeout_ms,
			 const struct usm_msg_header **h, const void **payload);

/* The socket usmd listens on by default: /run/usm/usmd.sock for root,
 * $XDG_RUNTIME_DIR/usm/usmd.sock (else /tmp/usm-UID/usmd.sock) for others.
 * $USM_SOCKET, when set, wins. 0 or -ENAMETOOLONG. */
int usm_daemon_socket_path(char *out, size_t len);

/* Connects to a usmd socket, with close-on-exec: a fd or -errno. */
int usm_daemon_connect(const char *path);

#endif
