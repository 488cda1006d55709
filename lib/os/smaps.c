#include "os/smaps.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/procfs.h"

/* seq_file fills as much of a read as it is asked for: a large stdio
 * buffer turns a few thousand mappings into a few dozen read() calls. */
#define SMAPS_BUFFER (256 * 1024)

struct usm_os_smaps {
	FILE *f;
	char *line;
	size_t line_cap;
	char *stdio_buf;
};

int usm_os_smaps_from_stream(FILE *f, struct usm_os_smaps **it)
{
	struct usm_os_smaps *s = calloc(1, sizeof(*s));

	if (!s) {
		fclose(f);
		return -ENOMEM;
	}
	s->f = f;
	*it = s;
	return 0;
}

int usm_os_smaps_open(int dirfd, struct usm_os_smaps **it)
{
	int fd = usm_os_proc_open_file(dirfd, "smaps");
	char *buf;
	FILE *f;
	int err;

	if (fd < 0)
		return fd;
	f = fdopen(fd, "r");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	buf = malloc(SMAPS_BUFFER);
	if (buf)
		setvbuf(f, buf, _IOFBF, SMAPS_BUFFER);
	err = usm_os_smaps_from_stream(f, it);
	if (err) {
		free(buf);
		return err;
	}
	(*it)->stdio_buf = buf;
	return 0;
}

void usm_os_smaps_close(struct usm_os_smaps *it)
{
	if (!it)
		return;
	fclose(it->f);
	free(it->stdio_buf);
	free(it->line);
	free(it);
}

/* The name field is `want`, up to the end of its line. */
static bool name_is(const char *name, const char *want)
{
	size_t n = strlen(want);

	return !strncmp(name, want, n) && (name[n] == '\n' || name[n] == '\0');
}

/* "start-end perms offset dev inode [name]": field lines ("Rss:", ...)
 * start with a capital letter, a mapping's first line with a hex digit.
 * The line ends at '\n' or NUL (maps text is walked in place). */
static bool parse_header(const char *line, struct usm_os_mapping *m)
{
	const char *field[6]; /* range, perms, offset, dev, inode, name */
	const char *p = line;

	if (!((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f')))
		return false;
	if (sscanf(line, "%" SCNx64 "-%" SCNx64, &m->start, &m->end) != 2)
		return false;
	for (int i = 0; i < 6; i++) {
		field[i] = p;
		p += strcspn(p, " \n");
		p += strspn(p, " ");
	}
	if (strcspn(field[1], " \n") != 4)
		return false;
	m->readable = field[1][0] == 'r';
	m->writable = field[1][1] == 'w';
	m->executable = field[1][2] == 'x';
	m->shared = field[1][3] == 's';
	m->inode = strtoull(field[4], NULL, 10);
	m->vsyscall = name_is(field[5], "[vsyscall]");
	m->heap = name_is(field[5], "[heap]");
	m->name = field[5];
	m->name_len = strcspn(field[5], "\n");
	m->io = m->pfnmap = m->huge_advised = false;
	m->anon_huge_kb = 0;
	return true;
}

static void parse_vmflags(const char *p, struct usm_os_mapping *m)
{
	/* Two-letter mnemonics separated by spaces (fs/proc/task_mmu.c). */
	for (p += strspn(p, " "); *p && *p != '\n'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " \n");

		if (n == 2 && !strncmp(p, "rd", 2))
			m->readable = true;
		else if (n == 2 && !strncmp(p, "io", 2))
			m->io = true;
		else if (n == 2 && !strncmp(p, "pf", 2))
			m->pfnmap = true;
		else if (n == 2 && !strncmp(p, "hg", 2))
			m->huge_advised = true;
		p += n;
	}
}

int usm_os_smaps_next(struct usm_os_smaps *it, struct usm_os_mapping *m)
{
	bool in_mapping = false;
	ssize_t len;

	errno = 0;
	while ((len = getline(&it->line, &it->line_cap, it->f)) > 0) {
		if (!in_mapping) {
			if (!parse_header(it->line, m))
				return -EINVAL;
			in_mapping = true;
		} else if (!strncmp(it->line, "AnonHugePages:", 14)) {
			m->anon_huge_kb = strtoull(it->line + 14, NULL, 10);
		} else if (!strncmp(it->line, "VmFlags:", 8)) {
			/* VmFlags closes each mapping's block (Linux 3.8+). */
			parse_vmflags(it->line + 8, m);
			return 1;
		}
	}
	if (errno == ENOMEM)
		return -ENOMEM;
	if (ferror(it->f))
		return errno ? -errno : -EIO;
	return in_mapping ? -ENODATA : 0;
}

void usm_os_maps_init(struct usm_os_maps *it, const char *text)
{
	it->next = text;
}

int usm_os_maps_next(struct usm_os_maps *it, struct usm_os_mapping *m)
{
	const char *line = it->next, *eol;

	if (!*line)
		return 0;
	eol = strchr(line, '\n');
	if (!eol)
		return -ENODATA;
	it->next = eol + 1;
	return parse_header(line, m) ? 1 : -EINVAL;
}
