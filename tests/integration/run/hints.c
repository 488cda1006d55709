/* usm_hint under usm run (and without it). Residency is read with
 * mincore: the pager drops evicted pages with MADV_DONTNEED, so a page it
 * holds is resident and one it evicted is not. Run with --limit 16M; prints
 * one line per behaviour and exits 1 if any failed.
 *   PIN       a pinned range stays resident while 48 MiB stream past it
 *   COLD      a resident range is evicted at once, and reads back intact
 *   WILLNEED  an evicted range is resident again before it is touched
 *   too much  a pin of more than half the limit is refused with ENOMEM
 * Without usm run the hints are the kernel's madvise/mlock and succeed. */
#include <errno.h>
#include <unistd.h>

#include <usm/hint.h>

#include "common.h"

static int failures;

static void report(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAILED");
	failures += !ok;
}

static size_t resident_pages(void *p, size_t len)
{
	unsigned char v[4096];
	size_t n = len / 4096, count = 0;

	if (n > sizeof(v) || mincore(p, len, v) < 0)
		return (size_t)-1;
	for (size_t i = 0; i < n; i++)
		count += v[i] & 1;
	return count;
}

int main(void)
{
	const size_t small = 4 * MB, stream = 48 * MB;
	char *pinned = mmap(NULL, small, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *other = mmap(NULL, small, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *big = mmap(NULL, stream, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (pinned == MAP_FAILED || other == MAP_FAILED || big == MAP_FAILED)
		return 2;
	fill(pinned, small, 1);
	fill(other, small, 2);
	if (!usm_hint_managed()) {
		int rc = usm_hint(other, small, USM_HINT_WILLNEED) |
			 usm_hint(other, small, USM_HINT_SEQUENTIAL) |
			 usm_hint(other, small, USM_HINT_COLD);
		report(rc == 0 && check(other, small, 2) < 0, "unmanaged: hints are kernel advice");
		report(usm_hint(other, small, (enum usm_hint_kind)99) == -EINVAL, "unmanaged: bad kind");
		return failures ? 1 : 0;
	}

	report(usm_hint(pinned, small, USM_HINT_PIN) == 0, "pin 4M");
	fill(big, stream, 3); /* three times the limit streams past */
	report(resident_pages(pinned, small) == small / 4096, "pinned range stayed resident");
	report(check(pinned, small, 1) < 0 && check(big, stream, 3) < 0, "data intact");

	report(usm_hint(big, 12 * MB, USM_HINT_PIN) == -ENOMEM, "a pin past half the limit is refused");

	report(usm_hint(other, small, USM_HINT_WILLNEED) == 0, "will-need 4M");
	report(resident_pages(other, small) == small / 4096, "will-need range resident before use");
	report(usm_hint(other, small, USM_HINT_COLD) == 0, "cold 4M");
	report(resident_pages(other, small) == 0, "cold range evicted");
	report(check(other, small, 2) < 0, "cold range reads back intact");

	report(usm_hint(pinned, small, USM_HINT_UNPIN) == 0, "unpin");
	fill(big, stream, 4);
	report(resident_pages(pinned, small) < small / 4096, "unpinned range can be evicted");
	report(check(pinned, small, 1) < 0 && check(big, stream, 4) < 0, "data intact after unpin");
	report(usm_hint(other, small, (enum usm_hint_kind)99) == -EINVAL, "bad kind");
	return failures ? 1 : 0;
}
