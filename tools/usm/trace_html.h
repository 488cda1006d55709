/* usm trace report --html: one self-contained page (inline CSS, script
 * and data; nothing fetched) of a CAPMAP summed per allocation site. */
#ifndef USM_TRACE_HTML_H
#define USM_TRACE_HTML_H

#include <stddef.h>
#include <stdio.h>

#include <usm/capmap.h>
#include <usm/symbolize.h>

/* Writes the page of agg (the CAPMAP at path) to out, its sites named
 * through symz (NULL: addresses), with at most touches access sites per
 * allocation site. Returns 0, -ENOMEM or -EIO. */
int trace_html_write(FILE *out, const char *path, const struct usm_capmap_agg *agg,
                     struct usm_symbolizer *symz, size_t touches);

#endif
