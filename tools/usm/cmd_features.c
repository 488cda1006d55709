/* usm features: what the running kernel offers usm, as a table or JSON.
 * Both forms are printed from one row of the shared table (table.h). */
#include "builtin.h"
#include "table.h"

#include <getopt.h>
#include <stdio.h>

#include <usm/usm.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usm features [--json]\n"
		"\n"
		"Probes the running kernel for what usm uses: userfaultfd (and whether\n"
		"this user gets faults taken inside the kernel), its write-protect modes,\n"
		"/proc/PID/pagemap and PAGEMAP_SCAN, soft-dirty bits, transparent huge\n"
		"pages and MADV_COLLAPSE, perf_event_paranoid, hardware breakpoints,\n"
		"and the dirty-tracking backend libusm picks here.\n"
		"\n"
		"  --json      print one JSON object instead of the table\n"
		"  -h, --help  show this help\n");
}

/* One row, one column per feature: the text shows a line per column. */
#define FEATURE(k, meaning, t) { .key = k, .head = meaning, .type = t }
static const struct table_col columns[] = {
	FEATURE("kernel", "running kernel release", TABLE_STR),
	FEATURE("uffd_syscall", "userfaultfd(2) usable by this user", TABLE_BOOL),
	FEATURE("uffd_kernel_faults",
		"faults taken inside syscalls are delivered (else they fail EFAULT)", TABLE_BOOL),
	FEATURE("uffd_dev", "/dev/userfaultfd can be opened", TABLE_BOOL),
	FEATURE("uffd_unprivileged", "vm.unprivileged_userfaultfd", TABLE_INT),
	FEATURE("uffd_features", "UFFDIO_API feature bits offered", TABLE_HEX),
	FEATURE("uffd_wp", "write-protect faults on anonymous memory", TABLE_BOOL),
	FEATURE("uffd_wp_async", "written bits without faults (WP_ASYNC)", TABLE_BOOL),
	FEATURE("uffd_sigbus", "faults as SIGBUS in the faulting thread (UFFD_FEATURE_SIGBUS)",
		TABLE_BOOL),
	FEATURE("uffd_wp_unpopulated", "write-protect of pages never touched (WP_UNPOPULATED)",
		TABLE_BOOL),
	FEATURE("uffd_wp_shmem", "write-protect of shmem and hugetlbfs (WP_HUGETLBFS_SHMEM)",
		TABLE_BOOL),
	FEATURE("uffd_poison", "a page the store cannot return becomes a SIGBUS (UFFDIO_POISON)",
		TABLE_BOOL),
	FEATURE("uffd_move", "pages moved in and out without a copy (UFFDIO_MOVE)", TABLE_BOOL),
	FEATURE("pagemap", "/proc/PID/pagemap readable", TABLE_BOOL),
	FEATURE("pagemap_pfn", "pagemap shows frame numbers (CAP_SYS_ADMIN)", TABLE_BOOL),
	FEATURE("pagemap_scan", "PAGEMAP_SCAN ioctl", TABLE_BOOL),
	FEATURE("soft_dirty", "soft-dirty bits: clear_refs 4 clears, a write sets (pagemap bit 55)",
		TABLE_BOOL),
	FEATURE("thp_enabled", "transparent_hugepage/enabled (empty: no THP)", TABLE_STR),
	FEATURE("madv_collapse", "MADV_COLLAPSE (huge pages now, any THP setting)", TABLE_BOOL),
	FEATURE("perf_event_paranoid", "kernel.perf_event_paranoid", TABLE_INT),
	FEATURE("hw_breakpoints", "data breakpoints a thread gets (perf_event_open)", TABLE_INT),
	FEATURE("dirty_auto", "dirty-tracking backend auto picks here", TABLE_STR),
};
#undef FEATURE

static void add_row(struct table *t, const struct usm_features *f)
{
	table_row(t);
	table_add_str(t, f->kernel_release);
	table_add_uint(t, f->uffd_syscall);
	table_add_uint(t, f->uffd_kernel_faults);
	table_add_uint(t, f->uffd_dev);
	table_add_int(t, f->uffd_unprivileged);
	table_add_uint(t, f->uffd_features);
	table_add_uint(t, f->uffd_wp);
	table_add_uint(t, f->uffd_wp_async);
	table_add_uint(t, f->uffd_sigbus);
	table_add_uint(t, f->uffd_wp_unpopulated);
	table_add_uint(t, f->uffd_wp_shmem);
	table_add_uint(t, f->uffd_poison);
	table_add_uint(t, f->uffd_move);
	table_add_uint(t, f->pagemap);
	table_add_uint(t, f->pagemap_pfn);
	table_add_uint(t, f->pagemap_scan);
	table_add_uint(t, f->soft_dirty);
	table_add_str(t, f->thp_enabled[0] ? f->thp_enabled : "none");
	table_add_uint(t, f->madv_collapse);
	table_add_int(t, f->perf_event_paranoid);
	table_add_int(t, f->hw_breakpoints);
	table_add_str(t, f->dirty_auto == USM_DIRTY_AUTO
				 ? "none"
				 : usm_dirty_backend_name((enum usm_dirty_backend)f->dirty_auto));
}

int cmd_features(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct usm_features f;
	struct table t;
	bool json = false;
	int c, err;

	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		default:
			return cli_option_end(argv[0], argv, c, usage);
		}
	}
	if (cli_no_arguments_left(argv[0], argc, argv))
		return 2;

	usm_features_probe(&f);
	table_init(&t, TABLE_COLS(columns));
	add_row(&t, &f);
	if (json)
		err = table_json_print(table_json_row(&t, 0), stdout, false);
	else
		err = table_print_fields(&t, stdout, 20, 24);
	table_free(&t);
	if (err < 0) {
		usm_error_errno(err, "features");
		return 1;
	}
	return 0;
}
