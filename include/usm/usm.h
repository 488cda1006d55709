/* libusm: userspace memory management and observation on a stock kernel.
 *
 * One public header per concept; this one pulls them all in. Functions
 * return 0 (or a count) on success and a negative errno on failure. */
#ifndef USM_USM_H
#define USM_USM_H

#include <usm/version.h>
#include <usm/features.h>
#include <usm/log.h>
#include <usm/meminfo.h>
#include <usm/size.h>
#include <usm/capmap.h>
#include <usm/symbolize.h>
#include <usm/trace.h>
#include <usm/pager.h>
#include <usm/stats.h>
#include <usm/hint.h>
#include <usm/dirty.h>
#include <usm/pagefacts.h>
#include <usm/wprotect.h>
#include <usm/watch.h>
#include <usm/hugepage.h>
#include <usm/syscalls.h>

/* The library's version, which may differ from the headers' USM_VERSION
 * when a program runs against another installed libusm. */
const char *usm_version(void);

#endif
