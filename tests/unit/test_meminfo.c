/* usm_meminfo_scan's choice of processes and the line format. The exact
 * figures of known pages are checked by tests/integration/info.sh, on a
 * small helper process: this test program may be an ASan build whose
 * memory map is huge and unpredictable. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/meminfo.h>

static void line_has_the_module_format(void **state)
{
	pid_t pids[] = { 861, 867, 892 };
	struct usm_meminfo_entry e = {
		.name = "sshd",
		.total = 7845,
		.valid = 75,
		.invalid = 7770,
		.may_be_shared = 4,
		.nb_group = 2,
		.npids = 3,
		.pids = pids,
	};
	char *line;
	int len;

	len = usm_meminfo_format_line(&e, &line);
	assert_int_equal(len, (int)strlen(line));
	assert_string_equal(line, "sshd, total: 7845, valid: 75, invalid: 7770, may_be_shared: 4, "
				  "nb_group: 2, pid(3): 861; 867; 892");
	free(line);

	e.npids = 1;
	e.total = e.valid = e.invalid = e.may_be_shared = e.nb_group = 0;
	assert_true(usm_meminfo_format_line(&e, &line) > 0);
	assert_string_equal(line, "sshd, total: 0, valid: 0, invalid: 0, may_be_shared: 0, "
				  "nb_group: 0, pid(1): 861");
	free(line);
}

static void a_name_no_process_has_selects_nothing(void **state)
{
	struct usm_meminfo_opts opts = { .name = "no-such-proc" };
	struct usm_meminfo mi;

	assert_int_equal(usm_meminfo_scan(&opts, &mi), 0);
	assert_int_equal(mi.count, 0);
	usm_meminfo_free(&mi);
}

static void pids_of_no_process_select_nothing(void **state)
{
	pid_t pids[] = { 0x7ffffff0 };
	struct usm_meminfo_opts opts = { .pids = pids, .npids = 1 };
	struct usm_meminfo mi;

	assert_int_equal(usm_meminfo_scan(&opts, &mi), 0);
	assert_int_equal(mi.count, 0);
	usm_meminfo_free(&mi);
}

static void zombies_and_reaped_processes_are_left_out(void **state)
{
	pid_t zombie = fork(), reaped;
	struct usm_meminfo_opts opts = { .npids = 2 };
	struct usm_meminfo mi;
	pid_t pids[2];

	assert_true(zombie >= 0);
	if (zombie == 0)
		_exit(0);
	reaped = fork();
	assert_true(reaped >= 0);
	if (reaped == 0)
		_exit(0);
	assert_int_equal(waitpid(reaped, NULL, 0), reaped);
	assert_int_equal(waitid(P_PID, (id_t)zombie, NULL, WEXITED | WNOWAIT), 0);

	pids[0] = zombie;
	pids[1] = reaped;
	opts.pids = pids;
	assert_int_equal(usm_meminfo_scan(&opts, &mi), 0);
	assert_int_equal(mi.count, 0);
	usm_meminfo_free(&mi);
	waitpid(zombie, NULL, 0);
}

/* A small process that is not this (maybe sanitized) test program. */
static pid_t start_sleep(void)
{
	pid_t pid = fork();
	char comm[32] = "", path[64];

	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	for (int i = 0; i < 400 && strcmp(comm, "sleep\n"); i++) {
		FILE *f = fopen(path, "r");

		comm[0] = '\0';
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		usleep(5000);
	}
	assert_string_equal(comm, "sleep\n");
	usleep(50000); /* let the loader finish mapping */
	return pid;
}

static uint64_t vmsize_pages(pid_t pid)
{
	char path[64], line[256];
	uint64_t kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %" SCNu64, &kb) == 1)
			break;
	fclose(f);
	return kb / 4;
}

static void a_live_process_gets_one_consistent_entry_either_way(void **state)
{
	pid_t pid = start_sleep();
	struct usm_meminfo_opts opts = { .pids = &pid, .npids = 1 };
	struct usm_meminfo scan, read;
	const struct usm_meminfo_entry *e;

	assert_int_equal(usm_meminfo_scan(&opts, &scan), 0);
	opts.no_pagemap_scan = true;
	assert_int_equal(usm_meminfo_scan(&opts, &read), 0);

	assert_int_equal(scan.count, 1);
	e = &scan.entries[0];
	assert_string_equal(e->name, "sleep");
	assert_int_equal(e->npids, 1);
	assert_int_equal(e->pids[0], pid);
	assert_int_equal(e->total, vmsize_pages(pid));
	assert_true(e->valid > 0 && e->valid <= e->total);
	assert_int_equal(e->invalid, e->total - e->valid);
	assert_true(e->may_be_shared <= e->valid);
	assert_true(e->nb_group * 2 <= e->may_be_shared);

	/* PAGEMAP_SCAN and pagemap entries agree on an idle process */
	assert_int_equal(read.count, 1);
	assert_int_equal(read.entries[0].total, e->total);
	assert_int_equal(read.entries[0].valid, e->valid);
	assert_int_equal(read.entries[0].may_be_shared, e->may_be_shared);
	assert_int_equal(read.entries[0].nb_group, e->nb_group);

	/* selecting by name finds the same process */
	opts = (struct usm_meminfo_opts){ .name = "sleep", .pids = &pid, .npids = 1 };
	usm_meminfo_free(&read);
	assert_int_equal(usm_meminfo_scan(&opts, &read), 0);
	assert_int_equal(read.count, 1);
	assert_int_equal(read.entries[0].valid, e->valid);

	usm_meminfo_free(&scan);
	usm_meminfo_free(&read);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void a_process_that_may_not_be_read_stops_the_scan_and_is_named(void **state)
{
	char name[16];
	pid_t parent = getpid(), child;
	int status;

	if (getuid() != 0)
		skip(); /* needs root to become another user */
	assert_int_equal(prctl(PR_GET_NAME, name), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct usm_meminfo_opts opts = { .pids = &parent, .npids = 1 };
		struct usm_meminfo mi;
		int err;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		err = usm_meminfo_scan(&opts, &mi);
		if (err != -EACCES)
			_exit(11);
		if (mi.denied_pid != parent || strcmp(mi.denied_name, name) || mi.count)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(line_has_the_module_format),
		cmocka_unit_test(a_name_no_process_has_selects_nothing),
		cmocka_unit_test(pids_of_no_process_select_nothing),
		cmocka_unit_test(zombies_and_reaped_processes_are_left_out),
		cmocka_unit_test(a_live_process_gets_one_consistent_entry_either_way),
		cmocka_unit_test(a_process_that_may_not_be_read_stops_the_scan_and_is_named),
	};
	return cmocka_run_group_tests_name("meminfo", tests, NULL, NULL);
}
