/* usmd's server: one thread, one epoll loop over the listening socket, the
 * connections, a signalfd (SIGTERM, SIGINT, SIGHUP) and a timerfd (the
 * protocol's deadlines). It speaks the protocol of docs/protocol.md and
 * leaves every decision about frames to pool.c. */
#ifndef USMD_SERVER_H
#define USMD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct usmd_settings {
	const char *socket_path;
	const char *config_path; /* NULL: no config, SIGHUP has nothing to reload */
	uint64_t pool_size;
	bool pool_from_cli; /* --pool: a reload never changes the size */
};

/* Serves on listen_fd until SIGTERM or SIGINT, which the caller has blocked
 * (with SIGHUP). Takes over cfg. On return the socket file is removed and
 * every connection closed. Returns the exit status: 0, or 1 when the loop
 * itself failed. */
int usmd_serve(int listen_fd, const struct usmd_settings *settings, struct usmd_config *cfg);

#endif
