#include "run_summary.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <usm/size.h>

/* One process's file as the tagger writes it: a key per field. */
static void add_process(struct run_summary *s, json_object *o, bool is_cmd)
{
	struct usm_pager_stats one = { 0 };

	for (size_t i = 0; i < usm_pager_stat_nfields; i++) {
		const struct usm_pager_stat_field *f = &usm_pager_stat_fields[i];
		json_object *v;

		if (json_object_object_get_ex(o, f->name, &v))
			*usm_pager_stat(&one, f) = (uint64_t)json_object_get_int64(v);
	}
	s->processes++;
	usm_pager_stats_merge(&s->st, &one, is_cmd);
}

static void report_fatal(const char *path, int pid)
{
	char msg[600] = "";
	FILE *f = fopen(path, "re");

	if (f) {
		if (!fgets(msg, sizeof(msg), f))
			msg[0] = '\0';
		fclose(f);
	}
	fprintf(stderr, "usm: run: process %d stopped by usm: %s\n", pid, msg);
}

int run_summary_read(const char *dir, int cmd_pid, struct run_summary *s)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	memset(s, 0, sizeof(*s));
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char *dot = strchr(e->d_name, '.');
		int pid = atoi(e->d_name);
		if (!dot || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!strcmp(dot, ".fatal")) {
			s->stopped++;
			report_fatal(path, pid);
		} else if (!strcmp(dot, ".json")) {
			json_object *o = json_object_from_file(path);
			if (o) {
				add_process(s, o, pid == cmd_pid);
				json_object_put(o);
			}
		}
	}
	closedir(d);
	return 0;
}

static const char *us(uint64_t ns, char *buf, size_t len)
{
	if (ns >= 1000000)
		snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	return buf;
}

void run_summary_print(FILE *out, const struct run_summary *s)
{
	char a[32], b[32], c[32], d[32];

	fprintf(out, "usm: %u process%s managed\n", s->processes, s->processes == 1 ? "" : "es");
	fprintf(out, "  faults      %" PRIu64 " first-touch, %" PRIu64 " refaults, %" PRIu64
		     " first writes; %" PRIu64 " pages prefetched\n",
		s->st.first_touch, s->st.refaults, s->st.first_write_faults, s->st.prefetched);
	fprintf(out, "  evictions   %" PRIu64 " pages (%" PRIu64 " clean, dropped without a write)\n",
		s->st.evictions, s->st.evictions_clean);
	fprintf(out, "  store       %s written, %s read back",
		usm_format_size(s->st.bytes_to_store, a, sizeof(a)),
		usm_format_size(s->st.bytes_from_store, b, sizeof(b)));
	if (s->st.blocks_to_disk)
		fprintf(out, "; %" PRIu64 " pages went to its file", s->st.blocks_to_disk);
	if (s->st.poisoned)
		fprintf(out, "; %" PRIu64 " pages it could not return (each a SIGBUS)",
			s->st.poisoned);
	fputc('\n', out);
	fprintf(out, "  latency     p50 %s, p99 %s per fault served\n",
		us(s->st.latency_p50_ns, c, sizeof(c)), us(s->st.latency_p99_ns, d, sizeof(d)));
	fprintf(out, "  resident    peak %s of managed memory",
		usm_format_size(s->st.peak_resident, a, sizeof(a)));
	if (s->st.peak_resident_held > s->st.peak_resident)
		fprintf(out, " (%s while fork or mremap held evictions)",
			usm_format_size(s->st.peak_resident_held, b, sizeof(b)));
	fputc('\n', out);
	/* each a peak of its own: their sum may exceed the peak of the total */
	fprintf(out, "  memory      peak %s in all: store %s in memory (%s on disk), "
		     "metadata %s\n",
		usm_format_size(s->st.peak_total, a, sizeof(a)),
		usm_format_size(s->st.peak_store_memory, b, sizeof(b)),
		usm_format_size(s->st.peak_store_disk, c, sizeof(c)),
		usm_format_size(s->st.peak_metadata, d, sizeof(d)));
}

int run_summary_write_json(const char *path, const struct run_summary *s, json_object *settings,
			   int exit_status, int signal)
{
	json_object *o = json_object_new_object();
	int rc = 0;

#define PUT(k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
	PUT("processes", s->processes);
	PUT("stopped", s->stopped);
	for (size_t i = 0; i < usm_pager_stat_nfields; i++)
		if (usm_pager_stat_fields[i].run_key)
			PUT(usm_pager_stat_fields[i].run_key,
			    usm_pager_stat_get(&s->st, &usm_pager_stat_fields[i]));
	PUT("exit_status", exit_status);
	PUT("signal", signal);
#undef PUT
	json_object_object_add(o, "settings", settings);
	if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					     JSON_C_TO_STRING_NOSLASHESCAPE) < 0)
		rc = -EIO;
	json_object_put(o);
	return rc;
}
