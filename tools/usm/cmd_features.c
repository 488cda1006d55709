/* usm features: what the running kernel offers usm, as a table or JSON.
 * Both forms are printed from one list of rows, so they cannot drift. */
#include "builtin.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include <json-c/json.h>
#include <usm/usm.h>

enum row_kind { ROW_BOOL, ROW_INT, ROW_HEX, ROW_STRING };

struct row {
	const char *key;
	enum row_kind kind;
	int64_t num;
	const char *str;
	const char *meaning;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: usm features [--json]\n"
		"\n"
		"Probes the running kernel for what usm uses: userfaultfd (and whether\n"
		"this user gets faults taken inside the kernel), its write-protect modes,\n"
		"/proc/PID/pagemap and PAGEMAP_SCAN, and perf_event_paranoid.\n"
		"\n"
		"  --json      print one JSON object instead of the table\n"
		"  -h, --help  show this help\n");
}

static size_t build_rows(const struct usm_features *f, struct row *rows)
{
	size_t n = 0;

#define ROW(k, kd, nm, s, m) rows[n++] = (struct row){ k, kd, nm, s, m }
	ROW("kernel", ROW_STRING, 0, f->kernel_release, "running kernel release");
	ROW("uffd_syscall", ROW_BOOL, f->uffd_syscall, NULL, "userfaultfd(2) usable by this user");
	ROW("uffd_kernel_faults", ROW_BOOL, f->uffd_kernel_faults, NULL,
	    "faults taken inside syscalls are delivered (else they fail EFAULT)");
	ROW("uffd_dev", ROW_BOOL, f->uffd_dev, NULL, "/dev/userfaultfd can be opened");
	ROW("uffd_unprivileged", ROW_INT, f->uffd_unprivileged, NULL, "vm.unprivileged_userfaultfd");
	ROW("uffd_features", ROW_HEX, (int64_t)f->uffd_features, NULL, "UFFDIO_API feature bits offered");
	ROW("uffd_wp", ROW_BOOL, f->uffd_wp, NULL, "write-protect faults on anonymous memory");
	ROW("uffd_wp_async", ROW_BOOL, f->uffd_wp_async, NULL, "written bits without faults (WP_ASYNC)");
	ROW("pagemap", ROW_BOOL, f->pagemap, NULL, "/proc/PID/pagemap readable");
	ROW("pagemap_pfn", ROW_BOOL, f->pagemap_pfn, NULL, "pagemap shows frame numbers (CAP_SYS_ADMIN)");
	ROW("pagemap_scan", ROW_BOOL, f->pagemap_scan, NULL, "PAGEMAP_SCAN ioctl");
	ROW("perf_event_paranoid", ROW_INT, f->perf_event_paranoid, NULL, "kernel.perf_event_paranoid");
#undef ROW
	return n;
}

static void print_table(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char value[32];

		switch (r->kind) {
		case ROW_BOOL:
			snprintf(value, sizeof(value), "%s", r->num ? "yes" : "no");
			break;
		case ROW_INT:
			snprintf(value, sizeof(value), "%" PRId64, r->num);
			break;
		case ROW_HEX:
			snprintf(value, sizeof(value), "0x%" PRIx64, (uint64_t)r->num);
			break;
		case ROW_STRING:
			snprintf(value, sizeof(value), "%s", r->str);
			break;
		}
		printf("%-20s %-24s %s\n", r->key, value, r->meaning);
	}
}

static int print_json(const struct row *rows, size_t n)
{
	json_object *obj = json_object_new_object();

	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		json_object *v = NULL;

		switch (r->kind) {
		case ROW_BOOL:
			v = json_object_new_boolean(r->num != 0);
			break;
		case ROW_INT:
		case ROW_HEX:
			v = json_object_new_int64(r->num);
			break;
		case ROW_STRING:
			v = json_object_new_string(r->str);
			break;
		}
		json_object_object_add(obj, r->key, v);
	}
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return 0;
}

int cmd_features(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct usm_features f;
	struct row rows[16];
	bool json = false;
	size_t n;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_bad_option(argv[0], argv, c);
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);

	usm_features_probe(&f);
	n = build_rows(&f, rows);
	if (json)
		return print_json(rows, n);
	print_table(rows, n);
	return 0;
}
