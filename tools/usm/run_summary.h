/* The figures of a usm run: summed over the per-process files the tagger
 * writes at exit, printed on stderr and written as JSON (--stats). */
#ifndef USM_RUN_SUMMARY_H
#define USM_RUN_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <usm/stats.h>

struct run_summary {
	unsigned processes;       /* processes that reported figures */
	unsigned stopped;         /* processes the pager had to stop */
	/* merged as USM_PAGER_STAT_FIELDS says: counts summed, peaks the largest
	 * of one process, latencies CMD's own; fields merged NONE stay 0 */
	struct usm_pager_stats st;
};

/* Reads DIR/PID.json and DIR/PID.fatal files; fatal messages are printed
 * on stderr as they are found. Returns 0 or -errno. */
int run_summary_read(const char *dir, int cmd_pid, struct run_summary *s);

void run_summary_print(FILE *out, const struct run_summary *s);

/* Writes the figures with the run's settings and outcome as one JSON
 * object; takes settings (which may be NULL). Returns 0 or -errno. */
int run_summary_write_json(const char *path, const struct run_summary *s, json_object *settings,
			   int exit_status, int signal);

#endif
