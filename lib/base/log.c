#include <usm/log.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log_prog = "usm";

void usm_log_set_prog(const char *prog)
{
	log_prog = prog;
}

const char *usm_log_prog(void)
{
	return log_prog;
}

void usm_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void usm_error_errno(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err < 0 ? -err : err));
}
