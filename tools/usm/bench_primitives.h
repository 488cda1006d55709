/* usm bench primitives: what each memory primitive costs here, usm's way
 * against the classic one (a kernel fault, mprotect + SIGSEGV), measured in
 * this process. The rows are filled here; cmd_bench.c prints them. */
#ifndef USM_BENCH_PRIMITIVES_H
#define USM_BENCH_PRIMITIVES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum bench_status {
	BENCH_OK,
	BENCH_UNAVAILABLE, /* this kernel or user lacks the mechanism: note says why */
	BENCH_FAILED,      /* the mechanism refused (the VMA limit): note says how far it got */
};

struct bench_row {
	char primitive[40];
	char mechanism[40];
	const char *way;     /* "classic" (the baseline of its primitive), "usm", "kernel" */
	uint64_t pages;      /* pages of the range (tracking) or per op */
	double written_pct;  /* tracking: the share of pages written per cycle; < 0 elsewhere */
	uint64_t ns;         /* median time per op; 0 when not measured */
	uint64_t collect_ns; /* tracking: the collect's part of ns; 0 elsewhere */
	uint64_t classic_ns; /* the classic row's ns for this primitive; 0: none */
	enum bench_status status;
	char note[200];
};

struct bench_rows {
	struct bench_row *v;
	size_t n, cap;
};

struct bench_config {
	uint64_t size;  /* the tracked range, bytes */
	unsigned runs;  /* the median of this many */
	bool quick;     /* small counts (tests) */
	FILE *progress; /* a line per group, NULL for none */
};

/* Measures every primitive into rows. Returns 0, or a negative errno when
 * the bench itself could not go on (no memory); a mechanism that is
 * missing or fails is a row saying so, not an error. */
int bench_primitives(const struct bench_config *c, struct bench_rows *rows);
void bench_rows_free(struct bench_rows *rows);

/* The kernel's vm.max_map_count, 0 when unknown. */
uint64_t bench_max_map_count(void);

#endif
