/* usmd's listening socket: its directory, the check for a usmd already
 * serving it, bind and mode. */
#ifndef USMD_SOCKET_H
#define USMD_SOCKET_H

#include <stddef.h>

/* Listens on path (non-blocking, close-on-exec, mode 0666) and returns the
 * fd, or -1 with err set to one line. A socket file nobody answers on is
 * stale and replaced; one a live usmd answers on is refused. */
int usmd_listen(const char *path, char *err, size_t errlen);

#endif
