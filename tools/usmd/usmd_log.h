/* usmd's log: one line per event, on stderr in --foreground, else to
 * syslog (facility daemon). Before usmd detaches, errors go to stderr. */
#ifndef USMD_LOG_H
#define USMD_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* From now on, log to syslog instead of stderr. */
void usmd_log_to_syslog(void);
void usmd_log_close(void);

/* level: LOG_ERR, LOG_WARNING, LOG_INFO or LOG_DEBUG (chatty events such as
 * leases and hints; stderr shows them all). */
void usmd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
