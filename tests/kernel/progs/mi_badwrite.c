/*
 * write() of a bad user pointer to /proc/memory_info must fail with EFAULT,
 * and the file must then read "[ERROR]: Bad address".
 * Exit status 0 when both hold; otherwise says what it got.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WANT "[ERROR]: Bad address\n"

int main(void)
{
	/* volatile: the compiler would otherwise object to the bad pointer */
	const void *volatile bad = (const void *)1;
	char buf[256];
	ssize_t r;
	int fd, e;

	fd = open("/proc/memory_info", O_RDWR);
	if (fd < 0) {
		perror("open /proc/memory_info");
		return 1;
	}
	r = write(fd, bad, 5);
	e = errno;
	if (r != -1 || e != EFAULT) {
		printf("write returned %zd, errno %d (%s), want -1 EFAULT\n",
		       r, e, strerror(e));
		return 1;
	}
	/* Reading from offset 0 shows the result of the last command. */
	r = pread(fd, buf, sizeof(buf) - 1, 0);
	if (r < 0) {
		perror("read");
		return 1;
	}
	buf[r] = '\0';
	if (strcmp(buf, WANT)) {
		printf("file reads \"%s\", want \"%s\"\n", buf, WANT);
		return 1;
	}
	return 0;
}
