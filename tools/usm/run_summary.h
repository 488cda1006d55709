/* The figures of a usm run: summed over the per-process files the tagger
 * writes at exit, printed on stderr and written as JSON (--stats). */
#ifndef USM_RUN_SUMMARY_H
#define USM_RUN_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct run_summary {
	unsigned processes;       /* processes that reported figures */
	unsigned stopped;         /* processes the pager had to stop */
	uint64_t first_touch, refaults, wp_faults, evictions, dropped_clean, prefetched;
	uint64_t bytes_to_store, bytes_from_store;
	uint64_t peak_resident;   /* the largest of one process */
	uint64_t peak_resident_held;  /* ... while fork or mremap held evictions */
	uint64_t latency_p50_ns, latency_p99_ns;  /* of the first process (CMD itself) */
};

/* Reads DIR/PID.json and DIR/PID.fatal files; fatal messages are printed
 * on stderr as they are found. Returns 0 or -errno. */
int run_summary_read(const char *dir, int cmd_pid, struct run_summary *s);

void run_summary_print(FILE *out, const struct run_summary *s);

/* Writes the figures with the run's settings and outcome as one JSON
 * object. Returns 0 or -errno. */
int run_summary_write_json(const char *path, const struct run_summary *s, const char *settings_json,
			   int exit_status, int signal);

#endif
