/* One-line diagnostics in the form every usm tool uses: "prog: message". */
#ifndef USM_LOG_H
#define USM_LOG_H

/* Sets the "prog" prefix (default "usm"). The string is not copied. */
void usm_log_set_prog(const char *prog);
const char *usm_log_prog(void);

/* "prog: <formatted message>\n" on stderr. */
void usm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "prog: <formatted message>: <strerror(-err)>\n" on stderr; err is a
 * negative errno as libusm functions return it. */
void usm_error_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
