/* Incremental checkpointing of a memory region with libusm's dirty tracking.
 *
 *   checkpoint run     --file PATH [--size SIZE] [--rounds N] [--write-pct P]
 *                      [--seed N] [--backend NAME]
 *   checkpoint verify  (the options of run)
 *   checkpoint restore --file PATH
 *
 * run maps a region, fills it, and writes checkpoint 0: every page (the
 * base). Then each round writes P% of the pages at random and appends
 * checkpoint N: only the pages usm_dirty_collect() reports as written since
 * the previous checkpoint. restore rebuilds the region from the base and the
 * increments in order; verify does run, then restore into fresh memory in
 * the same process, and compares the two byte for byte. run and restore end
 * with the region's checksum, so that the two can also be compared across
 * processes. The file format is in README.md beside this file.
 *
 * Only libusm's public headers are used, as in any program outside usm. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <usm/dirty.h>
#include <usm/size.h>

#define FILE_MAGIC       "USMCKPT" /* 8 bytes with its NUL */
#define FILE_VERSION     1
#define CHECKPOINT_MAGIC 0x54504b43u /* "CKPT" in a little-endian file */

struct file_header {
	char magic[8];
	uint32_t version;
	uint32_t page_size;
	uint64_t region_size;
};

struct checkpoint_header {
	uint32_t magic;
	uint32_t seq;   /* 0 for the base, then 1, 2, ... */
	uint64_t pages; /* records that follow */
};

/* Each record is its page's offset in the region (uint64_t), then the page.
 * A checkpoint ends with a uint64_t checksum of its header and records. */
_Static_assert(sizeof(struct file_header) == 24, "no padding in the file header");
_Static_assert(sizeof(struct checkpoint_header) == 16, "no padding in a checkpoint header");

static const char *prog = "checkpoint";
static size_t page_size;

static void usage(FILE *out)
{
	fprintf(out, "usage: checkpoint run|verify --file PATH [--size SIZE] [--rounds N]\n"
		     "                  [--write-pct P] [--seed N] [--backend NAME]\n"
		     "       checkpoint restore --file PATH\n"
		     "backends: auto (default), scan, softdirty, uffd, mprotect\n");
}

/* FNV-1a over 64-bit words: every length hashed here is a multiple of 8. */
#define FNV_START 0xcbf29ce484222325ull

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	return h;
}

/* xorshift64*: reproducible writes for a given --seed. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static char *map_region(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "%s: mmap %llu bytes: %s\n", prog, (unsigned long long)size,
			strerror(errno));
		return NULL;
	}
	return p;
}

/* ---- writing ---- */

struct writer {
	FILE *f;
	const char *path;
	uint64_t hash;  /* of the current checkpoint so far */
	uint64_t bytes; /* written for the current checkpoint */
};

static int put(struct writer *w, const void *data, size_t len)
{
	if (fwrite(data, 1, len, w->f) != len) {
		fprintf(stderr, "%s: %s: write: %s\n", prog, w->path, strerror(errno));
		return -1;
	}
	w->hash = fnv(w->hash, data, len);
	w->bytes += len;
	return 0;
}

static int begin_checkpoint(struct writer *w, uint32_t seq, uint64_t pages)
{
	struct checkpoint_header h = {CHECKPOINT_MAGIC, seq, pages};

	w->hash = FNV_START;
	w->bytes = 0;
	return put(w, &h, sizeof(h));
}

static int put_pages(struct writer *w, const char *region, uint64_t from, uint64_t to)
{
	for (uint64_t off = from; off < to; off += page_size)
		if (put(w, &off, sizeof(off)) || put(w, region + off, page_size))
			return -1;
	return 0;
}

/* The checksum, then everything on disk before the next checkpoint begins:
 * a crash leaves at worst a truncated last checkpoint, which restore
 * detects. */
static int end_checkpoint(struct writer *w)
{
	uint64_t sum = w->hash;

	if (fwrite(&sum, sizeof(sum), 1, w->f) != 1 || fflush(w->f) || fsync(fileno(w->f))) {
		fprintf(stderr, "%s: %s: write: %s\n", prog, w->path, strerror(errno));
		return -1;
	}
	w->bytes += sizeof(sum);
	return 0;
}

static void report(uint32_t seq, uint64_t pages, uint64_t region_pages, uint64_t bytes)
{
	char sz[32];

	printf("checkpoint %u: %llu pages (%.2f%% of the region), %s written\n", seq,
	       (unsigned long long)pages, 100.0 * (double)pages / (double)region_pages,
	       usm_format_size(bytes, sz, sizeof(sz)));
}

/* Checkpoint seq from a collect's ranges (offsets relative to region). */
static int write_increment(struct writer *w, uint32_t seq, const char *region, uint64_t size,
			   const struct usm_dirty_range *r, int n)
{
	uint64_t base = (uint64_t)(uintptr_t)region, pages = 0;

	for (int i = 0; i < n; i++)
		pages += (r[i].end - r[i].start) / page_size;
	if (begin_checkpoint(w, seq, pages))
		return -1;
	for (int i = 0; i < n; i++)
		if (put_pages(w, region, r[i].start - base, r[i].end - base))
			return -1;
	if (end_checkpoint(w))
		return -1;
	report(seq, pages, size / page_size, w->bytes);
	return 0;
}

/* A round of the workload: pct% of the pages get 8 random bytes each. */
static void random_writes(char *region, uint64_t size, double pct)
{
	uint64_t pages = size / page_size;
	uint64_t n = (uint64_t)((double)pages * pct / 100.0);

	if (n == 0)
		n = 1;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t page = rng() % pages, word = rng() % (page_size / 8);
		uint64_t value = rng();

		memcpy(region + page * page_size + word * 8, &value, 8);
	}
}

struct run_options {
	const char *path;
	uint64_t size;
	unsigned rounds;
	double pct;
	uint64_t seed;
	enum usm_dirty_backend backend;
};

/* Runs the workload and writes the checkpoints; *region_out is the live
 * region at the end (for verify). Returns 0 or -1 (reported). */
static int run(const struct run_options *o, char **region_out)
{
	struct usm_dirty_config c = {.backend = o->backend};
	struct file_header fh = {FILE_MAGIC, FILE_VERSION, (uint32_t)page_size, o->size};
	struct writer w = {.path = o->path};
	const struct usm_dirty_range *r;
	struct usm_dirty *d = NULL;
	char *region;
	int err, rc = -1;

	if (o->backend != USM_DIRTY_AUTO) {
		const char *why = NULL;

		err = usm_dirty_probe(o->backend, 0, 0, NULL, &why);
		if (err) {
			fprintf(stderr, "%s: backend %s: not available: %s\n", prog,
				usm_dirty_backend_name(o->backend), why ? why : strerror(-err));
			return -1;
		}
	}
	region = map_region(o->size);
	if (!region)
		return -1;
	rng_state = o->seed ? o->seed : 1;
	for (uint64_t off = 0; off < o->size; off += 8) {
		uint64_t v = rng();

		memcpy(region + off, &v, 8);
	}
	/* Tracking starts before the base is copied: a write from now on shows
	 * in a later checkpoint even if the base copied it already. */
	err = usm_dirty_start(&c, (uint64_t)(uintptr_t)region, o->size, &d);
	if (err) {
		fprintf(stderr, "%s: dirty tracking: %s\n", prog, strerror(-err));
		goto out;
	}
	printf("backend %s, region %llu pages\n", usm_dirty_backend_name(usm_dirty_backend(d)),
	       (unsigned long long)(o->size / page_size));
	w.f = fopen(o->path, "wb");
	if (!w.f) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->path, strerror(errno));
		goto out;
	}
	if (fwrite(&fh, sizeof(fh), 1, w.f) != 1) {
		fprintf(stderr, "%s: %s: write: %s\n", prog, o->path, strerror(errno));
		goto out;
	}
	if (begin_checkpoint(&w, 0, o->size / page_size) || put_pages(&w, region, 0, o->size) ||
	    end_checkpoint(&w))
		goto out;
	report(0, o->size / page_size, o->size / page_size, w.bytes + sizeof(fh));
	for (unsigned round = 1; round <= o->rounds; round++) {
		const struct usm_dirty_range all = {(uint64_t)(uintptr_t)region,
						    (uint64_t)(uintptr_t)region + o->size};
		int n;

		random_writes(region, o->size, o->pct);
		n = usm_dirty_collect(d, &r);
		if (n == -ENOMEM && (usm_dirty_caps(d) & USM_DIRTY_VMA_LIMIT)) {
			/* mprotect's VMA limit: every page counts as written */
			r = &all;
			n = 1;
		} else if (n < 0) {
			fprintf(stderr, "%s: collect: %s\n", prog, strerror(-n));
			goto out;
		}
		if (write_increment(&w, round, region, o->size, r, n))
			goto out;
	}
	printf("checksum %016llx\n", (unsigned long long)fnv(FNV_START, region, o->size));
	rc = 0;
out:
	if (d && (err = usm_dirty_stop(d)) && rc == 0) {
		fprintf(stderr, "%s: dirty tracking: stop: %s\n", prog, strerror(-err));
		rc = -1;
	}
	if (w.f && fclose(w.f) && rc == 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->path, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && region_out)
		*region_out = region;
	else
		munmap(region, o->size);
	return rc;
}

/* ---- restoring ---- */

struct reader {
	FILE *f;
	const char *path;
	uint64_t hash;
	uint32_t seq; /* the checkpoint being read */
};

/* Reads len bytes; 0 when they were all there, -1 (reported) otherwise.
 * at_boundary: a clean end of file here is the end of the checkpoints
 * (returns 1). */
static int get(struct reader *rd, void *buf, size_t len, bool at_boundary)
{
	size_t got = fread(buf, 1, len, rd->f);

	if (got == len) {
		rd->hash = fnv(rd->hash, buf, len);
		return 0;
	}
	if (ferror(rd->f)) {
		fprintf(stderr, "%s: %s: read: %s\n", prog, rd->path, strerror(errno));
		return -1;
	}
	if (got == 0 && at_boundary)
		return 1;
	fprintf(stderr, "%s: %s: truncated in checkpoint %u (at byte %ld)\n", prog, rd->path,
		rd->seq, ftell(rd->f));
	return -1;
}

static int corrupt(const struct reader *rd, const char *what)
{
	fprintf(stderr, "%s: %s: corrupt checkpoint %u: %s\n", prog, rd->path, rd->seq, what);
	return -1;
}

/* Rebuilds the region from path into fresh memory. Returns 0 with *region
 * and *size, or -1 (one line reported). */
static int restore(const char *path, char **region_out, uint64_t *size_out, uint32_t *count)
{
	struct reader rd = {.path = path};
	struct file_header fh;
	char *region = NULL;
	int rc = -1;

	rd.f = fopen(path, "rb");
	if (!rd.f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	if (fread(&fh, sizeof(fh), 1, rd.f) != 1 || memcmp(fh.magic, FILE_MAGIC, 8)) {
		fprintf(stderr, "%s: %s: not a checkpoint file (no USMCKPT header)\n", prog, path);
		goto out;
	}
	if (fh.version != FILE_VERSION || fh.page_size != page_size || fh.region_size == 0 ||
	    fh.region_size % page_size) {
		fprintf(stderr,
			"%s: %s: unsupported header (version %u, page size %u, region %llu "
			"bytes)\n",
			prog, path, fh.version, fh.page_size, (unsigned long long)fh.region_size);
		goto out;
	}
	region = map_region(fh.region_size);
	if (!region)
		goto out;
	for (rd.seq = 0;; rd.seq++) {
		struct checkpoint_header h;
		uint64_t sum, stored, next = 0;
		int e;

		rd.hash = FNV_START;
		e = get(&rd, &h, sizeof(h), rd.seq > 0);
		if (e > 0)
			break;
		if (e < 0)
			goto out;
		if (h.magic != CHECKPOINT_MAGIC || h.seq != rd.seq) {
			corrupt(&rd, "bad checkpoint header");
			goto out;
		}
		if (h.pages > fh.region_size / page_size ||
		    (rd.seq == 0 && h.pages != fh.region_size / page_size)) {
			corrupt(&rd, rd.seq ? "more pages than the region has"
					    : "the base does not hold every page");
			goto out;
		}
		for (uint64_t i = 0; i < h.pages; i++) {
			uint64_t off;

			if (get(&rd, &off, sizeof(off), false))
				goto out;
			/* ascending, so each page at most once, and inside */
			if (off % page_size || off < next || off >= fh.region_size) {
				corrupt(&rd, "bad page offset");
				goto out;
			}
			next = off + page_size;
			if (get(&rd, region + off, page_size, false))
				goto out;
		}
		sum = rd.hash;
		if (get(&rd, &stored, sizeof(stored), false))
			goto out;
		if (stored != sum) {
			corrupt(&rd, "checksum mismatch");
			goto out;
		}
	}
	*region_out = region;
	*size_out = fh.region_size;
	*count = rd.seq;
	rc = 0;
out:
	fclose(rd.f);
	if (rc && region)
		munmap(region, fh.region_size);
	return rc;
}

/* ---- command line ---- */

static int parse_backend(const char *s, enum usm_dirty_backend *b)
{
	for (int i = 0; i < USM_DIRTY_BACKENDS; i++)
		if (strcmp(s, usm_dirty_backend_name((enum usm_dirty_backend)i)) == 0) {
			*b = (enum usm_dirty_backend)i;
			return 0;
		}
	return -1;
}

static int bad_value(const char *opt, const char *value)
{
	fprintf(stderr, "%s: --%s: bad value '%s'\n", prog, opt, value);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"file", required_argument, NULL, 'f'},
		{"size", required_argument, NULL, 's'},
		{"rounds", required_argument, NULL, 'r'},
		{"write-pct", required_argument, NULL, 'w'},
		{"seed", required_argument, NULL, 'S'},
		{"backend", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct run_options o = {.size = 64 << 20, .rounds = 5, .pct = 1, .seed = 1};
	const char *mode;
	char *live = NULL, *restored;
	uint64_t size, v;
	uint32_t count;
	char *end;
	int opt;

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "f:s:r:w:S:b:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			o.path = optarg;
			break;
		case 's':
			if (usm_parse_size(optarg, &o.size) || o.size == 0 || o.size % page_size)
				return bad_value("size", optarg);
			break;
		case 'r':
			if (usm_parse_count(optarg, 1000000, &v))
				return bad_value("rounds", optarg);
			o.rounds = (unsigned)v;
			break;
		case 'w':
			o.pct = strtod(optarg, &end);
			if (*optarg == '\0' || *end || !(o.pct > 0 && o.pct <= 100))
				return bad_value("write-pct", optarg);
			break;
		case 'S':
			if (usm_parse_count(optarg, UINT64_MAX, &o.seed))
				return bad_value("seed", optarg);
			break;
		case 'b':
			if (parse_backend(optarg, &o.backend))
				return bad_value("backend", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o.path) {
		usage(stderr);
		return 2;
	}
	if (strcmp(mode, "run") == 0)
		return run(&o, NULL) ? 1 : 0;
	if (strcmp(mode, "restore") == 0) {
		if (restore(o.path, &restored, &size, &count))
			return 1;
		printf("restored %u checkpoints, %llu pages\n", count,
		       (unsigned long long)(size / page_size));
		printf("checksum %016llx\n", (unsigned long long)fnv(FNV_START, restored, size));
		munmap(restored, size);
		return 0;
	}
	if (strcmp(mode, "verify") == 0) {
		if (run(&o, &live) || restore(o.path, &restored, &size, &count))
			return 1;
		for (uint64_t off = 0; off < size; off += page_size)
			if (memcmp(live + off, restored + off, page_size)) {
				fprintf(stderr, "%s: verify: the page at offset %llu differs\n",
					prog, (unsigned long long)off);
				return 1;
			}
		printf("verify: %u checkpoints restore the live region byte for byte\n", count);
		munmap(live, o.size);
		munmap(restored, size);
		return 0;
	}
	fprintf(stderr, "%s: unknown mode '%s'\n", prog, mode);
	usage(stderr);
	return 2;
}
