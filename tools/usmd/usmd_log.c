/* usmd's log (see usmd_log.h). */
#include "usmd_log.h"

#include <stdarg.h>
#include <stdio.h>

static bool use_syslog;

void usmd_log_to_syslog(void)
{
	openlog("usmd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = true;
}

void usmd_log_close(void)
{
	if (use_syslog)
		closelog();
	use_syslog = false;
}

void usmd_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		/* one fprintf: a line is never split by another writer */
		char line[512];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "usmd: %s\n", line);
	}
	va_end(ap);
}
