/* Stores give back exactly what was put, never a wrong block: every kind
 * round-trips all shapes of block, enforces its cap, rejects bad handles and
 * lengths, and turns an I/O failure into -EIO. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include "store/store.h"

#define BLOCK  4096
#define NKINDS 4

static char dir[] = "/tmp/usm-test-store-XXXXXX";
static char file_path[PATH_MAX];
static char file_spec[PATH_MAX + 8];

static const char *kinds[NKINDS] = {"mem", "mem:lz4", "mem:zstd", file_spec};

static int make_dir(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(file_path, sizeof(file_path), "%s/swap", dir);
	snprintf(file_spec, sizeof(file_spec), "file:%s", file_path);
	return 0;
}

static int remove_dir(void **state)
{
	unlink(file_path);
	return rmdir(dir);
}

static bool is_file_kind(const char *kind)
{
	return strncmp(kind, "file:", 5) == 0;
}

/* Deterministic noise (xorshift): incompressible, the same on every run. */
static uint64_t next_random(uint64_t *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 7;
	*seed ^= *seed << 17;
	return *seed;
}

static void fill_random(void *buf, size_t len, uint64_t *seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)next_random(seed);
}

static void fill_text(void *buf, size_t len, unsigned salt)
{
	char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = "the pager keeps this block "[(i + salt) % 27];
}

static struct usm_store *open_store(const char *kind, uint64_t max_bytes)
{
	struct usm_store *s = NULL;

	assert_int_equal(usm_store_open(kind, BLOCK, max_bytes, &s), 0);
	assert_non_null(s);
	return s;
}

static void put_get(struct usm_store *s, const void *data, size_t len)
{
	char back[BLOCK];
	uint64_t h = 0;

	assert_int_equal(usm_store_put(s, data, len, &h), 0);
	assert_true(h != 0);
	memset(back, 0x5a, sizeof(back));
	assert_int_equal(usm_store_get(s, h, back, len), 0);
	assert_memory_equal(back, data, len);
	/* a get leaves the copy in place */
	assert_int_equal(usm_store_get(s, h, back, len), 0);
	assert_memory_equal(back, data, len);
}

static void round_trips_compressible_random_and_short_blocks(void **state)
{
	char block[BLOCK];
	uint64_t seed = 1;

	for (int k = 0; k < NKINDS; k++) {
		struct usm_store *s = open_store(kinds[k], 0);

		fill_text(block, BLOCK, 0);
		put_get(s, block, BLOCK);
		memset(block, 0, BLOCK);
		put_get(s, block, BLOCK);
		fill_random(block, BLOCK, &seed);
		put_get(s, block, BLOCK);
		put_get(s, block, 100);
		put_get(s, block, 1);
		put_get(s, block, 0);
		fill_text(block, BLOCK, 3);
		put_get(s, block, BLOCK - 1);
		usm_store_close(s);
	}
}

static void describes_the_normalised_spec(void **state)
{
	static const char *want[NKINDS] = {"mem:lz4", "mem:lz4", "mem:zstd", file_spec};

	for (int k = 0; k < NKINDS; k++) {
		struct usm_store *s = open_store(kinds[k], 0);

		assert_string_equal(usm_store_describe(s), want[k]);
		usm_store_close(s);
	}
	assert_non_null(strstr(usm_store_kinds(), "mem:zstd"));
	assert_non_null(strstr(usm_store_kinds(), "file:PATH"));
}

/* A model of what the store must hold, checked after random puts, gets and
 * drops; freed handles come back, so the table stays as small as the peak. */
#define LIVE 64

static void many_blocks_with_random_drops_and_reused_handles(void **state)
{
	static char want[LIVE][BLOCK];
	char back[BLOCK];

	for (int k = 0; k < NKINDS; k++) {
		struct usm_store *s = open_store(kinds[k], 0);
		uint64_t handle[LIVE] = {0}, max_handle = 0, seed = 42 + (uint64_t)k;
		size_t len[LIVE] = {0};

		for (int op = 0; op < 5000; op++) {
			int i = (int)(next_random(&seed) % LIVE);

			next_random(&seed);
			if (handle[i] && seed % 3 == 0) {
				usm_store_drop(s, handle[i]);
				handle[i] = 0;
			} else if (handle[i]) {
				assert_int_equal(usm_store_get(s, handle[i], back, len[i]), 0);
				assert_memory_equal(back, want[i], len[i]);
			} else {
				len[i] = seed % 5 == 0 ? (size_t)(seed >> 8) % BLOCK : BLOCK;
				if (seed % 2)
					fill_random(want[i], len[i], &seed);
				else
					fill_text(want[i], len[i], (unsigned)i);
				assert_int_equal(usm_store_put(s, want[i], len[i], &handle[i]), 0);
				for (int j = 0; j < LIVE; j++)
					assert_true(j == i || handle[j] != handle[i]);
				if (handle[i] > max_handle)
					max_handle = handle[i];
			}
		}
		assert_true(max_handle <= LIVE);
		for (int i = 0; i < LIVE; i++) {
			if (!handle[i])
				continue;
			assert_int_equal(usm_store_get(s, handle[i], back, len[i]), 0);
			assert_memory_equal(back, want[i], len[i]);
		}
		usm_store_close(s);
	}
}

static void rejects_wrong_lengths_and_unknown_or_dropped_handles(void **state)
{
	char block[BLOCK], back[BLOCK];

	fill_text(block, BLOCK, 0);
	for (int k = 0; k < NKINDS; k++) {
		struct usm_store *s = open_store(kinds[k], 0);
		struct usm_store_stats st;
		uint64_t h, h_short;

		assert_int_equal(usm_store_put(s, block, BLOCK, &h), 0);
		assert_int_equal(usm_store_put(s, block, 10, &h_short), 0);
		assert_int_equal(usm_store_get(s, h, back, BLOCK - 1), -EINVAL);
		assert_int_equal(usm_store_get(s, h_short, back, BLOCK), -EINVAL);
		assert_int_equal(usm_store_get(s, h_short, back, 9), -EINVAL);
		assert_int_equal(usm_store_get(s, 0, back, BLOCK), -EINVAL);
		assert_int_equal(usm_store_get(s, 1000, back, BLOCK), -EINVAL);
		assert_int_equal(usm_store_put(s, block, BLOCK + 1, &h), -EINVAL);

		usm_store_drop(s, h);
		assert_int_equal(usm_store_get(s, h, back, BLOCK), -EINVAL);
		/* a second drop, 0 and an unknown handle change nothing */
		usm_store_stats(s, &st);
		usm_store_drop(s, h);
		usm_store_drop(s, 0);
		usm_store_drop(s, 1000);
		assert_int_equal(usm_store_get(s, h_short, back, 10), 0);
		assert_memory_equal(back, block, 10);
		assert_int_equal(st.drops, 1);
		usm_store_stats(s, &st);
		assert_int_equal(st.drops, 1);
		assert_int_equal(st.blocks_stored, 1);
		usm_store_close(s);
	}
}

/* Random blocks do not compress, so each costs BLOCK in every kind. */
static void max_bytes_gives_enospc_and_keeps_serving_what_it_holds(void **state)
{
	char block[3][BLOCK], extra[BLOCK], back[BLOCK];
	uint64_t seed = 7;

	for (int i = 0; i < 3; i++)
		fill_random(block[i], BLOCK, &seed);
	fill_random(extra, BLOCK, &seed);
	for (int k = 0; k < NKINDS; k++) {
		struct usm_store *s = open_store(kinds[k], 3 * BLOCK);
		struct usm_store_stats st;
		uint64_t h[3], hx;

		for (int i = 0; i < 3; i++)
			assert_int_equal(usm_store_put(s, block[i], BLOCK, &h[i]), 0);
		assert_int_equal(usm_store_put(s, extra, BLOCK, &hx), -ENOSPC);
		usm_store_stats(s, &st);
		assert_int_equal(st.puts, 3);
		assert_int_equal(st.bytes_stored, 3 * BLOCK);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(usm_store_get(s, h[i], back, BLOCK), 0);
			assert_memory_equal(back, block[i], BLOCK);
		}
		/* room made by a drop can be used again */
		usm_store_drop(s, h[1]);
		assert_int_equal(usm_store_put(s, extra, BLOCK, &hx), 0);
		assert_int_equal(usm_store_get(s, hx, back, BLOCK), 0);
		assert_memory_equal(back, extra, BLOCK);
		usm_store_close(s);
	}
}

static void a_file_slot_costs_a_whole_block_even_for_a_short_block(void **state)
{
	struct usm_store *s = open_store(file_spec, 2 * BLOCK);
	char block[BLOCK] = "short";
	uint64_t h;

	assert_int_equal(usm_store_put(s, block, 10, &h), 0);
	assert_int_equal(usm_store_put(s, block, 10, &h), 0);
	assert_int_equal(usm_store_put(s, block, 10, &h), -ENOSPC);
	usm_store_close(s);
}

static void mem_stores_compress_what_compresses_and_keep_the_rest_raw(void **state)
{
	char text[BLOCK], noise[BLOCK];
	uint64_t seed = 3, h;

	fill_text(text, BLOCK, 0);
	fill_random(noise, BLOCK, &seed);
	for (int k = 0; k < NKINDS; k++) {
		struct usm_store *s;
		struct usm_store_stats st;

		if (is_file_kind(kinds[k]))
			continue;
		s = open_store(kinds[k], 0);
		assert_int_equal(usm_store_put(s, text, BLOCK, &h), 0);
		usm_store_stats(s, &st);
		assert_true(st.bytes_stored > 0 && st.bytes_stored < BLOCK / 4);
		usm_store_drop(s, h);
		assert_int_equal(usm_store_put(s, noise, BLOCK, &h), 0);
		usm_store_stats(s, &st);
		assert_int_equal(st.bytes_stored, BLOCK);
		usm_store_close(s);
	}
}

static void stats_count_every_operation(void **state)
{
	char block[BLOCK], back[BLOCK];
	uint64_t seed = 9;

	fill_random(block, BLOCK, &seed);
	for (int k = 0; k < NKINDS; k++) {
		struct usm_store *s = open_store(kinds[k], 0);
		struct usm_store_stats st;
		uint64_t h[3];

		usm_store_stats(s, &st);
		assert_int_equal(st.puts + st.gets + st.drops + st.bytes_in + st.bytes_out +
					 st.bytes_stored + st.blocks_stored,
				 0);
		assert_int_equal(usm_store_put(s, block, BLOCK, &h[0]), 0);
		assert_int_equal(usm_store_put(s, block, BLOCK, &h[1]), 0);
		assert_int_equal(usm_store_put(s, block, 100, &h[2]), 0);
		assert_int_equal(usm_store_get(s, h[0], back, BLOCK), 0);
		assert_int_equal(usm_store_get(s, h[2], back, 100), 0);
		assert_int_equal(usm_store_get(s, h[2], back, 99), -EINVAL); /* not counted */
		usm_store_drop(s, h[1]);
		usm_store_stats(s, &st);
		assert_int_equal(st.puts, 3);
		assert_int_equal(st.gets, 2);
		assert_int_equal(st.drops, 1);
		assert_int_equal(st.bytes_in, 2 * BLOCK + 100);
		assert_int_equal(st.bytes_out, BLOCK + 100);
		assert_int_equal(st.blocks_stored, 2);
		/* random bytes are kept raw, in memory's size class (100 -> 112
		 * bytes); a file slot is a whole block */
		assert_int_equal(st.bytes_stored, BLOCK + (is_file_kind(kinds[k]) ? BLOCK : 112));
		usm_store_drop(s, h[0]);
		usm_store_drop(s, h[2]);
		usm_store_stats(s, &st);
		assert_int_equal(st.drops, 3);
		assert_int_equal(st.bytes_stored, 0);
		assert_int_equal(st.blocks_stored, 0);
		usm_store_close(s);
	}
}

static void rejects_unknown_specs_and_bad_block_sizes(void **state)
{
	static const char *bad[] = {"disk", "file:", "file",     "mem:",   "mem:gzip",
				    "MEM",  "",      "mem:lz4 ", "memory", "mem+file:",
				    "mem+", "mem+disk:x", NULL};
	struct usm_store *s = NULL;

	for (int i = 0; bad[i]; i++)
		assert_int_equal(usm_store_open(bad[i], BLOCK, 0, &s), -EINVAL);
	assert_int_equal(usm_store_open(NULL, BLOCK, 0, &s), -EINVAL);
	assert_int_equal(usm_store_open("mem", 0, 0, &s), -EINVAL);
	assert_int_equal(usm_store_open(file_spec, 0, 0, &s), -EINVAL);
	assert_null(s);
	assert_int_equal(access(file_path, F_OK), -1);
}

/* Only a memcached cluster keeps blocks past the process; ending any other
 * store has nothing to delete. */
static void only_a_memcached_store_outlives_its_process(void **state)
{
	struct usm_store *s;
	uint64_t h;
	char block[BLOCK] = {1};

	assert_true(usm_store_outlives_process("memcached:db1:11211"));
	assert_true(usm_store_outlives_process("memcached:a:1,b:2,replicas=1,sasl=/x"));
	for (int i = 0; i < NKINDS; i++)
		assert_false(usm_store_outlives_process(kinds[i]));
	assert_false(usm_store_outlives_process("mem+file:/tmp/x"));
	assert_false(usm_store_outlives_process("nope:"));
	assert_false(usm_store_outlives_process(NULL));
	assert_int_equal(usm_store_open("mem", BLOCK, 0, &s), 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h), 0);
	assert_int_equal(usm_store_end(s), 0);
	usm_store_close(s);
}

/* usm run reads the credentials file before any process starts: only a
 * regular file of this user that no one else may read, of one line
 * USER:PASSWORD; never followed through a link. */
static void sasl_credentials_are_checked_before_any_connection(void **state)
{
	char cred[PATH_MAX], link[PATH_MAX], spec[PATH_MAX + 64], why[320];
	static const struct { const char *text; mode_t mode; int rc; const char *why; } cases[] = {
		{"user:secret\n", 0600, 0, ""},
		{"user:secret", 0400, 0, ""},
		{"user:pass:with:colons\r\n", 0600, 0, ""},
		{"user:secret\n", 0644, -EACCES, "mode 0600 or stricter"},
		{"user:secret\n", 0640, -EACCES, "mode 0600 or stricter"},
		{"user:secret\n", 0602, -EACCES, "mode 0600 or stricter"},
		{"no colon\n", 0600, -EINVAL, "expected one line USER:PASSWORD"},
		{":secret\n", 0600, -EINVAL, "expected one line USER:PASSWORD"},
		{"", 0600, -EINVAL, "expected one line USER:PASSWORD"},
	};

	snprintf(cred, sizeof(cred), "%s/cred", dir);
	snprintf(spec, sizeof(spec), "memcached:db1:11211,sasl=%s", cred);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = open(cred, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, cases[i].text, strlen(cases[i].text)),
		                 (ssize_t)strlen(cases[i].text));
		close(fd);
		assert_int_equal(chmod(cred, cases[i].mode), 0);
		assert_int_equal(usm_store_check_access(spec, why, sizeof(why)), cases[i].rc);
		assert_non_null(strstr(why, cases[i].why));
		if (cases[i].rc)
			assert_non_null(strstr(why, cred)); /* the line names the file */
	}
	chmod(cred, 0600);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(cred, link), 0);
	snprintf(spec, sizeof(spec), "memcached:db1:11211,sasl=%s", link);
	assert_true(usm_store_check_access(spec, why, sizeof(why)) < 0);
	unlink(link);
	unlink(cred);
	snprintf(spec, sizeof(spec), "memcached:db1:11211,sasl=%s", cred);
	assert_int_equal(usm_store_check_access(spec, why, sizeof(why)), -ENOENT);
	/* nothing to read without sasl=, or for another kind */
	assert_int_equal(usm_store_check_access("memcached:db1:11211", why, sizeof(why)), 0);
	assert_int_equal(usm_store_check_access("mem", why, sizeof(why)), 0);
}

/* A bad memcached spec is told before anything connects, with its reason. */
static void memcached_specs_are_checked_before_any_connection(void **state)
{
	static const char *good[] = {
		"memcached:db1:11211",
		"memcached:10.0.0.1:11211,10.0.0.2:11211,replicas=1,timeout=250",
		"memcached:a:1,b:2,c:3,replicas=2",
		NULL,
	};
	static const struct { const char *spec, *why; } bad[] = {
		{"memcached:", "unknown store"},
		{"memcached:host", "not HOST:PORT"},
		{"memcached:host:0", "bad port"},
		{"memcached:host:70000", "bad port"},
		{"memcached:host:1,replicas=1", "needs at least 2 servers"},
		{"memcached:host:1,timeout=0", "timeout=0"},
		{"memcached:host:1,colour=red", "unknown setting 'colour'"},
		{"memcached:host:1,sasl=", "sasl="},
		{NULL, NULL},
	};

	for (int i = 0; good[i]; i++) {
		assert_true(usm_store_spec_valid(good[i]));
		assert_string_equal(usm_store_spec_problem(good[i]), "");
	}
	for (int i = 0; bad[i].spec; i++) {
		assert_false(usm_store_spec_valid(bad[i].spec));
		assert_non_null(strstr(usm_store_spec_problem(bad[i].spec), bad[i].why));
	}
}

/* usmd deletes a gone client's keys by the prefix it announced: only a
 * whole process prefix is taken, never one that names more keys. */
static void a_process_key_prefix_is_read_and_nothing_shorter_is(void **state)
{
	static const char *bad[] = {
		"", "usm:", "usm:host:", "usm:host:run:", "usm:host:run:12:",
		"usm:host:run:12.:", "usm:host:run:.ab:", "usm:host:run:12.ab",
		"usm:host:run:12.ab:x", "usm:host:run:12.AB:", "usm:host:run:012.ab:",
		"usm:host:run:0.ab:", "usm:host:run:-1.ab:", "usm:host:run:99999999999.ab:",
		"usm:host:run:4294967295.ab:", "usm:ho st:run:12.ab:", "usm:host:r*n:12.ab:",
		"usm::run:12.ab:", "usm:host::12.ab:", "USM:host:run:12.ab:",
		"evil:host:run:12.ab:", "usm:host:run:12.abcdef01234:",
		"usm:host:run:12.ab:\n", NULL,
	};
	struct usm_store *s = NULL;
	char why[200];

	assert_int_equal(usm_store_prefix_pid("usm:host:run:12.ab:"), 12);
	assert_int_equal(usm_store_prefix_pid("usm:my-box.lan:1a2b-17f0c3:2147483647.ffffffffff:"),
	                 2147483647);
	for (int i = 0; bad[i]; i++)
		assert_int_equal(usm_store_prefix_pid(bad[i]), -EINVAL);
	/* refused before anything connects (port 1 would not answer) */
	assert_int_equal(usm_store_purge_process("memcached:127.0.0.1:1", "usm:", why, sizeof(why)),
	                 -EINVAL);
	assert_non_null(strstr(why, "not the key prefix of one process"));
	assert_int_equal(usm_store_purge_process("mem", "usm:h:r:1.a:", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a memcached store"));
	/* stores that die with their process have no keys to name */
	assert_int_equal(usm_store_open("mem", BLOCK, 0, &s), 0);
	assert_null(usm_store_key_prefix(s));
	usm_store_close(s);
}

/* A store without batches of its own gets them block by block: all of a
 * batch is kept, or none of it. */
static void batches_keep_all_or_nothing(void **state)
{
	static char blocks[3][BLOCK], back[3][BLOCK];
	struct usm_store_io io[3], get[3];
	struct usm_store_stats st;
	struct usm_store *s;
	size_t failed = 99;
	uint64_t seed = 7;

	for (int i = 0; i < 3; i++) {
		fill_random(blocks[i], BLOCK, &seed);
		io[i] = (struct usm_store_io){ .data = blocks[i], .len = BLOCK, .addr = 4096u * i };
	}
	assert_int_equal(usm_store_open("mem", BLOCK, 0, &s), 0);
	assert_int_equal(usm_store_put_batch(s, io, 3), 0);
	for (int i = 0; i < 3; i++)
		get[i] = (struct usm_store_io){ .data = back[i], .len = BLOCK, .handle = io[i].handle };
	assert_int_equal(usm_store_get_batch(s, get, 3, &failed), 0);
	assert_memory_equal(back, blocks, sizeof(blocks));
	get[1].len = BLOCK - 1; /* not what was saved */
	assert_int_equal(usm_store_get_batch(s, get, 3, &failed), -EINVAL);
	assert_int_equal(failed, 1);
	usm_store_close(s);

	/* room for two random blocks only: the third fails, the batch is undone */
	assert_int_equal(usm_store_open("mem", BLOCK, 2 * BLOCK + BLOCK / 2, &s), 0);
	assert_int_equal(usm_store_put_batch(s, io, 3), -ENOSPC);
	usm_store_stats(s, &st);
	assert_int_equal(st.blocks_stored, 0);
	assert_int_equal(st.bytes_stored, 0);
	usm_store_close(s);
}

static void file_exists_while_open_and_is_removed_by_close(void **state)
{
	struct usm_store *s = open_store(file_spec, 0);
	struct stat st;

	assert_int_equal(stat(file_path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600); /* it holds a process's memory */
	usm_store_close(s);
	assert_int_equal(access(file_path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void a_relative_file_is_removed_even_after_a_chdir(void **state)
{
	char cwd[PATH_MAX];
	struct usm_store *s;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	s = open_store("file:swap", 0);
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(access(file_path, F_OK), 0);
	usm_store_close(s);
	assert_int_equal(access(file_path, F_OK), -1);
	assert_int_equal(chdir(cwd), 0);
}

static void opening_an_existing_file_fails_and_leaves_it_alone(void **state)
{
	struct usm_store *s = NULL;
	char missing[PATH_MAX + 32];
	int fd = open(file_path, O_CREAT | O_EXCL | O_WRONLY, 0644);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(usm_store_open(file_spec, BLOCK, 0, &s), -EEXIST);
	assert_int_equal(access(file_path, F_OK), 0);
	assert_int_equal(unlink(file_path), 0);
	snprintf(missing, sizeof(missing), "file:%s/no/such/dir/swap", dir);
	assert_int_equal(usm_store_open(missing, BLOCK, 0, &s), -ENOENT);
	assert_null(s);
}

/* A swap file cut short behind the store's back must read as an error,
 * not as the zeros past the end of the file. */
static void a_truncated_file_reads_as_eio_never_as_zeros(void **state)
{
	struct usm_store *s = open_store(file_spec, 0);
	struct usm_store_stats st;
	char block[BLOCK], back[BLOCK];
	uint64_t h[2];

	fill_text(block, BLOCK, 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[0]), 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[1]), 0);
	assert_int_equal(truncate(file_path, BLOCK + BLOCK / 2), 0);
	assert_int_equal(usm_store_get(s, h[0], back, BLOCK), 0);
	assert_int_equal(usm_store_get(s, h[1], back, BLOCK), -EIO);
	assert_int_equal(truncate(file_path, 0), 0);
	assert_int_equal(usm_store_get(s, h[0], back, BLOCK), -EIO);
	usm_store_stats(s, &st);
	assert_int_equal(st.gets, 1);
	usm_store_close(s);
}

/* A write the kernel refuses (here: past RLIMIT_FSIZE, EFBIG) is -EIO, the
 * slot is not kept, and what was stored before is still served. */
static void a_refused_write_is_eio_and_stores_nothing(void **state)
{
	struct rlimit old, small = {.rlim_cur = 2 * BLOCK};
	struct usm_store *s = open_store(file_spec, 0);
	struct usm_store_stats st;
	char block[BLOCK], back[BLOCK];
	uint64_t h[3];

	fill_text(block, BLOCK, 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[0]), 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[1]), 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[2]), -EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	usm_store_stats(s, &st);
	assert_int_equal(st.puts, 2);
	assert_int_equal(st.blocks_stored, 2);
	assert_int_equal(usm_store_get(s, h[1], back, BLOCK), 0);
	assert_memory_equal(back, block, BLOCK);
	/* the failed slot was given back */
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[2]), 0);
	assert_int_equal(h[2], 3);
	usm_store_close(s);
}

/* Files in dir, to see that an unnamed tier leaves none behind. */
static int count_files(const char *path)
{
	char cmd[PATH_MAX + 32];
	int n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

/* Past its memory cap a mem store puts blocks in its file: both tiers give
 * back what they hold, the statistics say where each byte is, and a drop
 * from either tier frees its place. */
static void past_the_memory_cap_blocks_go_to_the_file_tier(void **state)
{
	enum { N = 12 };
	static char want[N][BLOCK];
	char spec[PATH_MAX + 32], back[BLOCK];
	struct usm_store_stats st;
	uint64_t h[N], seed = 7;
	struct usm_store *s;

	snprintf(spec, sizeof(spec), "mem:zstd+file:%s", file_path);
	s = open_store(spec, 0);
	assert_string_equal(usm_store_describe(s), spec);
	
	assert_int_equal(access(file_path, F_OK), 0); /* a named tier is made at open */
	usm_store_set_memory_cap(s, 4 * BLOCK);       /* incompressible: 4 blocks fit */
	for (int i = 0; i < N; i++) {
		fill_random(want[i], BLOCK, &seed);
		assert_int_equal(usm_store_put(s, want[i], BLOCK, &h[i]), 0);
	}
	usm_store_stats(s, &st);
	assert_int_equal(st.blocks_stored, N);
	assert_true(st.bytes_in_memory <= 4 * BLOCK && st.bytes_in_memory >= 3 * BLOCK);
	assert_true(st.blocks_on_disk >= N - 4 && st.blocks_on_disk <= N - 3);
	assert_int_equal(st.bytes_on_disk, st.blocks_on_disk * BLOCK);
	assert_int_equal(st.bytes_stored, st.bytes_in_memory + st.bytes_on_disk);
	assert_int_equal(st.puts_to_disk, st.blocks_on_disk);
	assert_int_equal(usm_store_memory_bytes(s), st.bytes_in_memory);
	for (int i = 0; i < N; i++) {
		assert_int_equal(usm_store_get(s, h[i], back, BLOCK), 0);
		assert_memory_equal(back, want[i], BLOCK);
	}
	usm_store_drop(s, h[0]);       /* in memory */
	usm_store_drop(s, h[N - 1]);   /* on disk */
	usm_store_stats(s, &st);
	assert_int_equal(st.blocks_stored, N - 2);
	assert_int_equal(st.bytes_stored, st.bytes_in_memory + st.bytes_on_disk);
	assert_int_equal(usm_store_get(s, h[N - 1], back, BLOCK), -EINVAL);
	/* memory freed by the drop takes the next block again */
	assert_int_equal(usm_store_put(s, want[0], BLOCK, &h[0]), 0);
	usm_store_stats(s, &st);
	assert_true(st.bytes_in_memory >= 3 * BLOCK);
	usm_store_close(s);
	assert_int_equal(access(file_path, F_OK), -1);
}

/* Without a named file the second tier is an unnamed one in $TMPDIR, made
 * only when a block first spills, and nothing is left in the directory. */
static void an_unnamed_second_tier_is_made_on_first_spill_and_leaves_nothing(void **state)
{
	char tmp[PATH_MAX], block[BLOCK], back[BLOCK];
	const char *old = getenv("TMPDIR");
	struct usm_store_stats st;
	uint64_t h[3], seed = 9;
	struct usm_store *s;

	snprintf(tmp, sizeof(tmp), "%s/tmpdir", dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	setenv("TMPDIR", tmp, 1);
	s = open_store("mem", 0);
	usm_store_set_memory_cap(s, BLOCK + BLOCK / 2);
	fill_random(block, BLOCK, &seed);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[0]), 0);
	usm_store_stats(s, &st);
	assert_int_equal(st.blocks_on_disk, 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[1]), 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[2]), 0);
	usm_store_stats(s, &st);
	assert_int_equal(st.blocks_on_disk, 2);
	assert_int_equal(count_files(tmp), 0); /* O_TMPFILE: no name ever */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(usm_store_get(s, h[i], back, BLOCK), 0);
		assert_memory_equal(back, block, BLOCK);
	}
	assert_string_equal(usm_store_describe(s), "mem:lz4");
	usm_store_close(s);
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	assert_int_equal(rmdir(tmp), 0);
}

/* A spill the file tier cannot take (its directory is gone) is an error
 * for the caller, and the blocks already held are still served. */
static void a_second_tier_that_cannot_be_made_is_an_error(void **state)
{
	char tmp[PATH_MAX], block[BLOCK], back[BLOCK];
	uint64_t h[2], seed = 11;
	struct usm_store *s;

	snprintf(tmp, sizeof(tmp), "%s/gone", dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	setenv("TMPDIR", tmp, 1);
	s = open_store("mem", 0);
	unsetenv("TMPDIR");
	assert_int_equal(rmdir(tmp), 0);
	usm_store_set_memory_cap(s, BLOCK + BLOCK / 2);
	fill_random(block, BLOCK, &seed);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[0]), 0);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h[1]), -ENOENT);
	assert_int_equal(usm_store_get(s, h[0], back, BLOCK), 0);
	assert_memory_equal(back, block, BLOCK);
	usm_store_close(s);
}

/* A directory for the file store: "file:DIR/" is an unnamed file there. */
static void file_dir_slash_is_an_unnamed_file(void **state)
{
	char spec[PATH_MAX + 16], block[BLOCK];
	struct usm_store *s;
	uint64_t h;

	snprintf(spec, sizeof(spec), "file:%s/", dir);
	s = open_store(spec, 0);
	fill_text(block, BLOCK, 3);
	put_get(s, block, BLOCK);
	assert_int_equal(usm_store_put(s, block, BLOCK, &h), 0);
	assert_int_equal(count_files(dir), 0);
	usm_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trips_compressible_random_and_short_blocks),
		cmocka_unit_test(describes_the_normalised_spec),
		cmocka_unit_test(many_blocks_with_random_drops_and_reused_handles),
		cmocka_unit_test(rejects_wrong_lengths_and_unknown_or_dropped_handles),
		cmocka_unit_test(max_bytes_gives_enospc_and_keeps_serving_what_it_holds),
		cmocka_unit_test(a_file_slot_costs_a_whole_block_even_for_a_short_block),
		cmocka_unit_test(mem_stores_compress_what_compresses_and_keep_the_rest_raw),
		cmocka_unit_test(stats_count_every_operation),
		cmocka_unit_test(rejects_unknown_specs_and_bad_block_sizes),
		cmocka_unit_test(memcached_specs_are_checked_before_any_connection),
		cmocka_unit_test(only_a_memcached_store_outlives_its_process),
		cmocka_unit_test(sasl_credentials_are_checked_before_any_connection),
		cmocka_unit_test(a_process_key_prefix_is_read_and_nothing_shorter_is),
		cmocka_unit_test(batches_keep_all_or_nothing),
		cmocka_unit_test(file_exists_while_open_and_is_removed_by_close),
		cmocka_unit_test(a_relative_file_is_removed_even_after_a_chdir),
		cmocka_unit_test(opening_an_existing_file_fails_and_leaves_it_alone),
		cmocka_unit_test(a_truncated_file_reads_as_eio_never_as_zeros),
		cmocka_unit_test(a_refused_write_is_eio_and_stores_nothing),
		cmocka_unit_test(past_the_memory_cap_blocks_go_to_the_file_tier),
		cmocka_unit_test(an_unnamed_second_tier_is_made_on_first_spill_and_leaves_nothing),
		cmocka_unit_test(a_second_tier_that_cannot_be_made_is_an_error),
		cmocka_unit_test(file_dir_slash_is_an_unnamed_file),
	};
	return cmocka_run_group_tests_name("store", tests, make_dir, remove_dir);
}
