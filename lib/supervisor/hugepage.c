/* Transparent huge pages for a range: the advice, an immediate collapse,
 * and how much of the range huge pages back (from smaps). */
#include <usm/hugepage.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/page.h"
#include "os/procfs.h"
#include "os/smaps.h"
#include "os/thp.h"
#include "os/vm.h"

int usm_huge_mode(void)
{
	static const char *const names[] = { [USM_HUGE_NEVER] = "never",
					     [USM_HUGE_MADVISE] = "madvise",
					     [USM_HUGE_ALWAYS] = "always" };
	char word[32];
	int err = usm_os_thp_setting("enabled", word, sizeof(word));

	if (err)
		return err == -ENOENT ? -EOPNOTSUPP : err;
	for (int m = USM_HUGE_NEVER; m <= USM_HUGE_ALWAYS; m++)
		if (!strcmp(word, names[m]))
			return m;
	return -EINVAL;
}

uint64_t usm_huge_page_size(void)
{
	return usm_os_thp_pmd_size();
}

static bool bad_range(uintptr_t start, size_t len)
{
	return len == 0 || start % USM_PAGE_SIZE || len % USM_PAGE_SIZE || start + len < start;
}

int usm_huge_request(void *addr, size_t len, unsigned int flags)
{
	long rc;

	if (bad_range((uintptr_t)addr, len) || (flags & ~(unsigned int)USM_HUGE_COLLAPSE))
		return -EINVAL;
	if (usm_huge_page_size() == 0)
		return -EOPNOTSUPP;
	rc = usm_os_madvise(addr, len, MADV_HUGEPAGE);
	if (rc < 0)
		return (int)rc;
	if (!(flags & USM_HUGE_COLLAPSE))
		return 0;
	rc = usm_os_madvise(addr, len, MADV_COLLAPSE);
	/* the range took MADV_HUGEPAGE: EINVAL is a kernel that does not
	 * know MADV_COLLAPSE (before 6.1) */
	if (rc == -EINVAL)
		return -EOPNOTSUPP;
	return rc < 0 ? (int)rc : 0;
}

int usm_huge_query(const void *addr, size_t len, struct usm_huge_info *info)
{
	uint64_t start = (uintptr_t)addr, end = start + len;
	struct usm_os_smaps *it;
	struct usm_os_mapping m;
	int dirfd, err;

	if (bad_range(start, len) || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->bytes = len;
	info->advised = info->exact = true;
	dirfd = usm_os_proc_open(getpid());
	if (dirfd < 0)
		return dirfd;
	err = usm_os_smaps_open(dirfd, &it);
	close(dirfd);
	if (err)
		return err;
	while ((err = usm_os_smaps_next(it, &m)) == 1) {
		uint64_t lo = m.start > start ? m.start : start;
		uint64_t hi = m.end < end ? m.end : end;
		uint64_t huge = m.anon_huge_kb * 1024;

		if (lo >= hi)
			continue;
		if (!m.huge_advised)
			info->advised = false;
		if (m.start < start || m.end > end) {
			info->exact = false;
			if (huge > hi - lo)
				huge = hi - lo;
		}
		info->huge_bytes += huge;
	}
	usm_os_smaps_close(it);
	return err < 0 ? err : 0;
}
