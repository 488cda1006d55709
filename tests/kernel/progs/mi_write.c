/*
 * mi_write TEXT     write TEXT to /proc/memory_info in one write() and print
 *                   "ok" or the errno name (EINVAL, EFAULT, ESRCH, ENOMEM...).
 *                   TEXT understands \n, \r, \t, \\ and \xHH escapes.
 * mi_write -s N     the same with N bytes of 'A' (a too-long command).
 * Exit status 0 whenever the write was attempted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ESRCH: return "ESRCH";
	case ENOMEM: return "ENOMEM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	default: return "E?";
	}
}

static size_t unescape(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\' || !s[1]) {
			out[n++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': out[n++] = '\n'; s++; break;
		case 'r': out[n++] = '\r'; s++; break;
		case 't': out[n++] = '\t'; s++; break;
		case 'x': {
			char hex[3] = { 0 };

			strncpy(hex, s + 1, 2);
			out[n++] = (char)strtoul(hex, NULL, 16);
			s += 1 + strlen(hex);
			break;
		}
		default: out[n++] = *s++; break;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	char *buf;
	size_t n;
	int fd;

	if (argc == 3 && !strcmp(argv[1], "-s")) {
		n = strtoul(argv[2], NULL, 0);
		buf = malloc(n + 1);
		if (!buf)
			return 1;
		memset(buf, 'A', n);
	} else if (argc == 2) {
		buf = malloc(strlen(argv[1]) + 1);
		if (!buf)
			return 1;
		n = unescape(argv[1], buf);
	} else {
		fprintf(stderr, "usage: mi_write TEXT | mi_write -s N\n");
		return 2;
	}
	fd = open("/proc/memory_info", O_WRONLY);
	if (fd < 0) {
		printf("open: %s\n", errname(errno));
		return 1;
	}
	if (write(fd, buf, n) == (ssize_t)n)
		printf("ok\n");
	else
		printf("%s\n", errname(errno));
	close(fd);
	return 0;
}
