#include "run_summary.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <usm/size.h>

static uint64_t field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

static void add_process(struct run_summary *s, json_object *o, bool is_cmd)
{
	s->processes++;
	s->first_touch += field(o, "first_touch");
	s->refaults += field(o, "refaults");
	s->wp_faults += field(o, "wp_faults");
	s->evictions += field(o, "evictions");
	s->dropped_clean += field(o, "dropped_clean");
	s->prefetched += field(o, "prefetched");
	s->bytes_to_store += field(o, "bytes_to_store");
	s->bytes_from_store += field(o, "bytes_from_store");
	if (field(o, "peak_resident") > s->peak_resident)
		s->peak_resident = field(o, "peak_resident");
	if (field(o, "peak_resident_held") > s->peak_resident_held)
		s->peak_resident_held = field(o, "peak_resident_held");
	if (is_cmd || !s->latency_p50_ns) {
		s->latency_p50_ns = field(o, "latency_p50_ns");
		s->latency_p99_ns = field(o, "latency_p99_ns");
	}
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
		s->first_touch, s->refaults, s->wp_faults, s->prefetched);
	fprintf(out, "  evictions   %" PRIu64 " pages (%" PRIu64 " clean, dropped without a write)\n",
		s->evictions, s->dropped_clean);
	fprintf(out, "  store       %s written, %s read back\n",
		usm_format_size(s->bytes_to_store, a, sizeof(a)),
		usm_format_size(s->bytes_from_store, b, sizeof(b)));
	fprintf(out, "  latency     p50 %s, p99 %s per fault served\n",
		us(s->latency_p50_ns, c, sizeof(c)), us(s->latency_p99_ns, d, sizeof(d)));
	fprintf(out, "  resident    peak %s of managed memory", usm_format_size(s->peak_resident, a, sizeof(a)));
	if (s->peak_resident_held > s->peak_resident)
		fprintf(out, " (%s while fork or mremap held evictions)",
			usm_format_size(s->peak_resident_held, b, sizeof(b)));
	fputc('\n', out);
}

int run_summary_write_json(const char *path, const struct run_summary *s, const char *settings_json,
			   int exit_status, int signal)
{
	json_object *o = json_object_new_object();
	int rc = 0;

#define PUT(k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
	PUT("processes", s->processes);
	PUT("stopped", s->stopped);
	PUT("first_touch_faults", s->first_touch);
	PUT("refaults", s->refaults);
	PUT("first_write_faults", s->wp_faults);
	PUT("prefetched_pages", s->prefetched);
	PUT("evictions", s->evictions);
	PUT("evictions_clean", s->dropped_clean);
	PUT("bytes_to_store", s->bytes_to_store);
	PUT("bytes_from_store", s->bytes_from_store);
	PUT("fault_latency_p50_ns", s->latency_p50_ns);
	PUT("fault_latency_p99_ns", s->latency_p99_ns);
	PUT("peak_resident_bytes", s->peak_resident);
	PUT("peak_resident_held_bytes", s->peak_resident_held);
	PUT("exit_status", exit_status);
	PUT("signal", signal);
#undef PUT
	json_object_object_add(o, "settings", json_tokener_parse(settings_json));
	if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED) < 0)
		rc = -EIO;
	json_object_put(o);
	return rc;
}
