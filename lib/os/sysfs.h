/* Small readers for /proc/sys and similar one-value files. */
#ifndef USM_OS_SYSFS_H
#define USM_OS_SYSFS_H

/* Reads one decimal integer from `path`. Returns 0 or a negative errno. */
int usm_os_read_int(const char *path, int *value);

#endif
