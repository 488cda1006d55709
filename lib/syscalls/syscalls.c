/* usm syscalls' session: perf events on raw_syscalls:sys_enter/sys_exit for
 * every thread of the target, one ring buffer per CPU, records merged in
 * time order into the hot-site rule (sites.c), and a user stack every Nth
 * exit unwound to the program's own call site (unwind.c). */
#include <usm/syscalls.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asm/perf_regs.h>
#include <asm/unistd_64.h>

#include "base/clock.h"
#include "os/perf.h"
#include "os/procfs.h"
#include "os/spawn.h"
#include "os/tracefs.h"
#include "syscalls/names.h"
#include "syscalls/sites.h"
#include "syscalls/unwind.h"

enum ev_kind { EV_ENTER, EV_EXIT, EV_STACK };

struct ev_id {
	uint64_t id;
	enum ev_kind kind;
};

/* An entry or exit waiting to be merged in time order. */
struct ev {
	uint64_t t;
	uint64_t addr;
	pid_t pid, tid;
	int nr;
	unsigned cpu : 24;
	unsigned kind : 8;
};

struct pid_unwinder {
	pid_t pid;
	struct usm_unwinder *u; /* NULL after a failed open */
	bool tried;
};

struct usm_syscalls {
	struct usm_syscalls_config cfg;
	pid_t target;
	bool own_child;
	int child_status;
	bool child_done;
	unsigned ncpu;
	int *cpu_ok; /* per CPU: its ring is mapped */
	struct usm_os_perf_ring *rings;
	int *fds;
	size_t nfds, fds_cap;
	struct ev_id *ids;
	size_t nids, ids_cap;
	unsigned nr_offset; /* of sys_exit's id field in its raw record */
	volatile sig_atomic_t stop;
	struct sc_state st;
	struct ev *evs;
	size_t nevs, evs_cap;
	int err; /* first -ENOMEM while handling records */
	bool lost_now;
	struct pid_unwinder *unw;
	size_t nunw, unw_cap;
	bool mounted;
	uint64_t entry_exit_ns;
	int tp_enter, tp_exit;
	uint64_t stack_regs_mask;
};

/* The user registers a stack sample carries, in perf's order (bit order). */
static const int stack_regs[] = {
	PERF_REG_X86_AX, PERF_REG_X86_BX, PERF_REG_X86_CX, PERF_REG_X86_DX,  PERF_REG_X86_SI,
	PERF_REG_X86_DI, PERF_REG_X86_BP, PERF_REG_X86_SP, PERF_REG_X86_IP,  PERF_REG_X86_R8,
	PERF_REG_X86_R9, PERF_REG_X86_R10, PERF_REG_X86_R11, PERF_REG_X86_R12, PERF_REG_X86_R13,
	PERF_REG_X86_R14, PERF_REG_X86_R15,
};
#define NSTACK_REGS (sizeof(stack_regs) / sizeof(stack_regs[0]))

void usm_syscalls_config_init(struct usm_syscalls_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->short_gap_ns = USM_SYSCALLS_SHORT_GAP_NS;
	cfg->hot_count = USM_SYSCALLS_HOT_COUNT;
	cfg->window = USM_SYSCALLS_WINDOW;
	/* prime, so that it does not beat with a loop's own period */
	cfg->stack_period = 499;
	cfg->stack_bytes = 2048;
	/* 16 MiB a CPU: ~300 ms of a syscall loop, for a reader the scheduler
	 * keeps waiting on a busy machine */
	cfg->ring_pages = 4096;
	cfg->duty = USM_SYSCALLS_DUTY;
}

const char *usm_syscall_name(int nr)
{
	if (nr < 0 || (unsigned)nr >= usm_syscall_names_count)
		return NULL;
	return usm_syscall_names[nr];
}

static int push_fd(struct usm_syscalls *s, int fd)
{
	if (s->nfds == s->fds_cap) {
		size_t ncap = s->fds_cap ? s->fds_cap * 2 : 16;
		int *n = realloc(s->fds, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->fds = n;
		s->fds_cap = ncap;
	}
	s->fds[s->nfds++] = fd;
	return 0;
}

static int push_id(struct usm_syscalls *s, int fd, enum ev_kind kind)
{
	uint64_t id;
	int err = usm_os_perf_id(fd, &id);

	if (err)
		return err;
	if (s->nids == s->ids_cap) {
		size_t ncap = s->ids_cap ? s->ids_cap * 2 : 16;
		struct ev_id *n = realloc(s->ids, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->ids = n;
		s->ids_cap = ncap;
	}
	s->ids[s->nids++] = (struct ev_id){ id, kind };
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = ((const struct ev_id *)a)->id, y = ((const struct ev_id *)b)->id;

	return (x > y) - (x < y);
}

static int find_kind(const struct usm_syscalls *s, uint64_t id)
{
	size_t lo = 0, hi = s->nids;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->ids[mid].id == id)
			return (int)s->ids[mid].kind;
		if (s->ids[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void base_attr(struct perf_event_attr *a, int config, bool on_exec, unsigned ring_pages)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_TRACEPOINT;
	a->config = (uint64_t)config;
	a->sample_period = 1;
	a->disabled = 1;
	a->inherit = 1; /* threads and children created from now on */
	a->enable_on_exec = on_exec;
	a->exclude_callchain_kernel = 1;
	/* wake the reader at a quarter full: room for 3/4 of a ring while it works */
	a->watermark = 1;
	a->wakeup_watermark = (uint32_t)(ring_pages * (size_t)sysconf(_SC_PAGESIZE) / 4);
}

/* The three events of one task on one CPU; the first of the CPU owns the
 * ring buffer, every later one writes into it. */
static int open_task_cpu(struct usm_syscalls *s, pid_t tid, unsigned cpu, bool on_exec)
{
	struct perf_event_attr a;
	int fds[3], err;

	base_attr(&a, s->tp_enter, on_exec, s->cfg.ring_pages);
	a.sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	fds[0] = usm_os_perf_open(&a, tid, (int)cpu, -1, 0);
	if (fds[0] < 0)
		return fds[0];
	base_attr(&a, s->tp_exit, on_exec, s->cfg.ring_pages);
	a.sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW |
			PERF_SAMPLE_REGS_USER;
	a.sample_regs_user = 1ull << PERF_REG_X86_IP;
	fds[1] = usm_os_perf_open(&a, tid, (int)cpu, -1, 0);
	if (fds[1] < 0) {
		close(fds[0]);
		return fds[1];
	}
	base_attr(&a, s->tp_exit, on_exec, s->cfg.ring_pages);
	a.sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
			PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	a.sample_period = s->cfg.stack_period;
	a.sample_regs_user = s->stack_regs_mask;
	a.sample_stack_user = s->cfg.stack_bytes;
	fds[2] = usm_os_perf_open(&a, tid, (int)cpu, -1, 0);
	if (fds[2] < 0) {
		close(fds[0]);
		close(fds[1]);
		return fds[2];
	}
	for (int i = 0; i < 3; i++) {
		err = push_fd(s, fds[i]);
		if (err) {
			for (int j = i; j < 3; j++)
				close(fds[j]);
			return err;
		}
	}
	err = push_id(s, fds[0], EV_ENTER);
	if (!err)
		err = push_id(s, fds[1], EV_EXIT);
	if (!err)
		err = push_id(s, fds[2], EV_STACK);
	if (err)
		return err;
	if (!s->cpu_ok[cpu]) {
		err = usm_os_perf_ring_map(fds[1], s->cfg.ring_pages, &s->rings[cpu]);
		if (err)
			return err;
		s->cpu_ok[cpu] = 1;
	} else {
		err = usm_os_perf_set_output(fds[1], s->rings[cpu].fd);
		if (err)
			return err;
	}
	for (int i = 0; i < 3; i += 2) {
		err = usm_os_perf_set_output(fds[i], s->rings[cpu].fd);
		if (err)
			return err;
	}
	return 0;
}

/* Every CPU for task tid. A CPU that is offline refuses (-ENODEV or
 * -EINVAL) and is skipped, as long as one CPU accepts. */
static int open_task(struct usm_syscalls *s, pid_t tid, bool on_exec)
{
	int ok = 0, err = -ENODEV;

	for (unsigned c = 0; c < s->ncpu; c++) {
		int e = open_task_cpu(s, tid, c, on_exec);

		if (!e)
			ok++;
		else if (e != -ENODEV && e != -EINVAL)
			return e;
		else
			err = e;
	}
	return ok ? 0 : err;
}

/* Every thread of a running process. Threads it starts from now on
 * inherit the events; one that started between the listing and the open
 * is caught by a second listing. */
static int open_listed_task(void *ctx, pid_t tid)
{
	return open_task(ctx, tid, false);
}

static int open_pid(struct usm_syscalls *s, pid_t pid)
{
	return usm_os_proc_each_task(pid, open_listed_task, s);
}

static int setup(struct usm_syscalls *s, enum usm_syscalls_stage *stage)
{
	char dir[256];
	int err, id;

	*stage = USM_SYSCALLS_STAGE_TRACEFS;
	err = usm_os_tracefs_find(dir, sizeof(dir), true, &s->mounted);
	if (err)
		return err;
	*stage = USM_SYSCALLS_STAGE_TRACEPOINT;
	id = usm_os_tracepoint_id(dir, "raw_syscalls", "sys_enter");
	if (id < 0)
		return id;
	s->tp_enter = id;
	id = usm_os_tracepoint_id(dir, "raw_syscalls", "sys_exit");
	if (id < 0)
		return id;
	s->tp_exit = id;
	{
		unsigned size;

		err = usm_os_tracepoint_field(dir, "raw_syscalls", "sys_exit", "id", &s->nr_offset,
					      &size);
		if (err)
			return err;
		if (size != 8)
			return -EINVAL;
	}
	*stage = USM_SYSCALLS_STAGE_PERF;
	s->ncpu = (unsigned)get_nprocs_conf();
	s->rings = calloc(s->ncpu, sizeof(*s->rings));
	s->cpu_ok = calloc(s->ncpu, sizeof(*s->cpu_ok));
	if (!s->rings || !s->cpu_ok)
		return -ENOMEM;
	for (size_t i = 0; i < NSTACK_REGS; i++)
		s->stack_regs_mask |= 1ull << stack_regs[i];
	return sc_state_init(&s->st, s->ncpu, s->cfg.short_gap_ns, s->cfg.hot_count, s->cfg.window);
}

int usm_syscalls_open(const struct usm_syscalls_config *cfg, struct usm_syscalls **out,
		      enum usm_syscalls_stage *stage)
{
	struct usm_syscalls *s;
	struct usm_os_spawn sp = { .go_fd = -1, .err_fd = -1 };
	int err;

	*stage = USM_SYSCALLS_STAGE_NONE;
	if ((!cfg->pid) == (!cfg->argv) || !cfg->window || !cfg->stack_period ||
	    (cfg->ring_pages & (cfg->ring_pages - 1)) || cfg->stack_bytes % 8 || !cfg->duty ||
	    cfg->duty > 100)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->child_status = -1;
	s->entry_exit_ns = usm_os_syscall_roundtrip_ns();
	if (cfg->pid) {
		*stage = USM_SYSCALLS_STAGE_PID;
		if (cfg->pid < 0 || (kill(cfg->pid, 0) < 0 && errno == ESRCH)) {
			err = -ESRCH;
			goto fail;
		}
		s->target = cfg->pid;
	}
	err = setup(s, stage);
	if (err)
		goto fail;
	if (cfg->pid) {
		err = open_pid(s, cfg->pid);
		if (err == -ESRCH) /* usm_os_proc_each_task: gone, or no thread left */
			*stage = USM_SYSCALLS_STAGE_PID;
		if (err)
			goto fail;
	} else {
		/* held before its exec, so that its events exist first */
		*stage = USM_SYSCALLS_STAGE_EXEC;
		err = usm_os_spawn_held(s->cfg.argv, &sp);
		if (err)
			goto fail;
		s->target = sp.pid;
		*stage = USM_SYSCALLS_STAGE_PERF;
		err = open_task(s, s->target, true);
		if (err)
			goto fail;
	}
	qsort(s->ids, s->nids, sizeof(*s->ids), cmp_id);
	if (cfg->pid) {
		for (size_t i = 0; i < s->nfds; i++)
			usm_os_perf_enable(s->fds[i]);
	} else {
		*stage = USM_SYSCALLS_STAGE_EXEC;
		err = usm_os_spawn_release(&sp);
		if (err)
			goto fail;
		s->own_child = true;
	}
	*stage = USM_SYSCALLS_STAGE_NONE;
	*out = s;
	return 0;
fail:
	usm_os_spawn_abort(&sp); /* a held child exits 127 and is reaped */
	s->own_child = false;
	usm_syscalls_close(s);
	return err;
}

void usm_syscalls_stop(struct usm_syscalls *s)
{
	s->stop = 1;
}

static struct usm_unwinder *unwinder(struct usm_syscalls *s, pid_t pid, bool create)
{
	for (size_t i = 0; i < s->nunw; i++)
		if (s->unw[i].pid == pid)
			return s->unw[i].u;
	if (!create)
		return NULL;
	if (s->nunw == s->unw_cap) {
		size_t ncap = s->unw_cap ? s->unw_cap * 2 : 8;
		struct pid_unwinder *n = realloc(s->unw, ncap * sizeof(*n));

		if (!n)
			return NULL;
		s->unw = n;
		s->unw_cap = ncap;
	}
	s->unw[s->nunw] = (struct pid_unwinder){ .pid = pid, .tried = true };
	if (usm_unwinder_open(pid, &s->unw[s->nunw].u) < 0)
		s->unw[s->nunw].u = NULL;
	return s->unw[s->nunw++].u;
}

/* After an execve the process is another program: its modules go. */
static void drop_unwinder(struct usm_syscalls *s, pid_t pid)
{
	for (size_t i = 0; i < s->nunw; i++) {
		if (s->unw[i].pid == pid) {
			usm_unwinder_close(s->unw[i].u);
			s->unw[i] = s->unw[--s->nunw];
			return;
		}
	}
}

struct rec_ctx {
	struct usm_syscalls *s;
	unsigned cpu;
};

static void stack_sample(struct usm_syscalls *s, const unsigned char *p, const unsigned char *end,
			 pid_t pid, pid_t tid)
{
	uint64_t abi, perf_regs[NSTACK_REGS], dregs[USM_UNWIND_NREGS], size, dyn, caller = 0;
	const unsigned char *stack;
	struct usm_unwinder *u;
	long site;

	if (p + 8 > end)
		return;
	memcpy(&abi, p, 8);
	p += 8;
	if (abi == PERF_SAMPLE_REGS_ABI_NONE || p + sizeof(perf_regs) + 8 > end)
		return; /* a kernel thread, or a task without user registers */
	memcpy(perf_regs, p, sizeof(perf_regs));
	p += sizeof(perf_regs);
	memcpy(&size, p, 8);
	p += 8;
	if (p + size + 8 > end)
		return;
	stack = p;
	memcpy(&dyn, p + size, 8);
	if (dyn > size)
		dyn = size;
	/* perf order (ax bx cx dx si di bp sp ip r8..r15) to DWARF's (rax rdx
	 * rcx rbx rsi rdi rbp rsp r8..r15 rip) */
	dregs[0] = perf_regs[0];
	dregs[1] = perf_regs[3];
	dregs[2] = perf_regs[2];
	dregs[3] = perf_regs[1];
	dregs[4] = perf_regs[4];
	dregs[5] = perf_regs[5];
	dregs[6] = perf_regs[6];
	dregs[7] = perf_regs[7];
	for (int i = 0; i < 8; i++)
		dregs[8 + i] = perf_regs[9 + i];
	dregs[16] = perf_regs[8];
	site = sc_site(&s->st, pid, perf_regs[8] - 2);
	if (site < 0) {
		s->err = (int)site;
		return;
	}
	u = unwinder(s, pid, true);
	if (u && usm_unwinder_caller(u, tid, dregs, stack, dyn, &caller) == -EINVAL) {
		usm_unwinder_refresh(u); /* a module loaded since: look again */
		usm_unwinder_caller(u, tid, dregs, stack, dyn, &caller);
	}
	if (sc_add_caller(&s->st, (size_t)site, caller) < 0)
		s->err = -ENOMEM;
}

/* One record of CPU ctx->cpu's ring: entries and exits are queued for the
 * merge, stack samples handled at once (they need no order). */
static void on_record(const struct perf_event_header *h, void *arg)
{
	struct rec_ctx *c = arg;
	struct usm_syscalls *s = c->s;
	const unsigned char *p = (const unsigned char *)(h + 1), *end = (const unsigned char *)h + h->size;
	uint64_t id, t;
	uint32_t pt[2];
	int kind;
	struct ev e = { .cpu = c->cpu };

	if (h->type == PERF_RECORD_LOST) {
		s->lost_now = true;
		return;
	}
	if (h->type != PERF_RECORD_SAMPLE || h->size < sizeof(*h) + 24)
		return;
	memcpy(&id, p, 8);
	memcpy(pt, p + 8, 8);
	memcpy(&t, p + 16, 8);
	p += 24;
	kind = find_kind(s, id);
	if (kind == EV_STACK) {
		stack_sample(s, p, end, (pid_t)pt[0], (pid_t)pt[1]);
		return;
	}
	e.t = t;
	e.pid = (pid_t)pt[0];
	e.tid = (pid_t)pt[1];
	e.kind = EV_ENTER;
	if (kind == EV_EXIT) {
		uint32_t raw_size;
		int64_t nr;
		uint64_t abi, ip;

		if (p + 4 > end)
			return;
		memcpy(&raw_size, p, 4);
		if (raw_size < s->nr_offset + 8 || p + 4 + raw_size + 16 > end)
			return;
		memcpy(&nr, p + 4 + s->nr_offset, 8);
		p += 4 + raw_size;
		memcpy(&abi, p, 8);
		if (abi == PERF_SAMPLE_REGS_ABI_NONE)
			return;
		memcpy(&ip, p + 8, 8);
		e.kind = EV_EXIT;
		e.nr = (int)nr;
		e.addr = ip - 2; /* the 2-byte syscall instruction before the return address */
	} else if (kind != EV_ENTER) {
		return;
	}
	if (s->nevs == s->evs_cap) {
		size_t ncap = s->evs_cap ? s->evs_cap * 2 : 65536;
		struct ev *n = realloc(s->evs, ncap * sizeof(*n));

		if (!n) {
			s->err = -ENOMEM;
			return;
		}
		s->evs = n;
		s->evs_cap = ncap;
	}
	s->evs[s->nevs++] = e;
}

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	return (x->t > y->t) - (x->t < y->t);
}

/* Drains every ring and feeds their entries and exits to the rule in time
 * order. A thread that moved CPU between the reads of two rounds can be
 * seen out of order; sites.c drops a negative interval. */
static int drain(struct usm_syscalls *s)
{
	s->nevs = 0;
	s->lost_now = false;
	for (unsigned c = 0; c < s->ncpu; c++) {
		struct rec_ctx ctx = { s, c };

		if (s->cpu_ok[c] && usm_os_perf_ring_drain(&s->rings[c], on_record, &ctx) < 0)
			return -ENOMEM;
	}
	if (s->err)
		return s->err;
	qsort(s->evs, s->nevs, sizeof(*s->evs), cmp_ev);
	for (size_t i = 0; i < s->nevs; i++) {
		const struct ev *e = &s->evs[i];

		if (e->kind == EV_ENTER) {
			if (sc_enter(&s->st, e->cpu, e->tid, e->t) < 0)
				return -ENOMEM;
		} else {
			long site = sc_exit(&s->st, e->pid, e->tid, e->t, e->nr, e->addr);

			if (site < 0)
				return (int)site;
			if (e->nr == __NR_execve || e->nr == __NR_execveat)
				drop_unwinder(s, e->pid);
		}
	}
	if (s->lost_now)
		sc_forget_threads(&s->st);
	return 0;
}

static char *dup_or_null(const char *str)
{
	return str ? strdup(str) : NULL;
}

/* Names for sites and callers while their process is still there to ask. */
static void symbolize_new(struct usm_syscalls *s)
{
	for (size_t i = 0; i < s->nunw; i++)
		if (s->unw[i].u)
			usm_unwinder_check_exec(s->unw[i].u);
	for (size_t i = 0; i < s->st.nsites; i++) {
		struct sc_site *site = s->st.sites[i];
		struct usm_unwinder *u;
		struct usm_unwind_sym sym;

		if (site->symbolized)
			continue;
		u = unwinder(s, site->pid, true);
		if (!u)
			continue;
		if (usm_unwinder_symbol(u, site->addr, false, &sym) < 0) {
			usm_unwinder_refresh(u);
			if (usm_unwinder_symbol(u, site->addr, false, &sym) < 0)
				continue;
		}
		site->out.module = dup_or_null(sym.module);
		site->out.module_offset = sym.module_offset;
		site->out.function = dup_or_null(sym.function);
		site->out.function_offset = sym.function_offset;
		site->symbolized = true;
	}
}

static void symbolize_callers(struct usm_syscalls *s, struct usm_syscalls_site *o,
			      const struct sc_site *site)
{
	struct usm_unwinder *u = unwinder(s, site->pid, false);

	o->callers = calloc(site->ncallers ? site->ncallers : 1, sizeof(*o->callers));
	if (!o->callers)
		return;
	for (size_t k = 0; k < site->ncallers; k++) {
		struct usm_syscalls_caller *c = &o->callers[o->ncallers++];
		struct usm_unwind_sym sym;

		c->addr = site->callers[k].addr;
		c->samples = site->callers[k].samples;
		if (u && usm_unwinder_symbol(u, c->addr, true, &sym) == 0) {
			c->function = dup_or_null(sym.function);
			c->function_offset = sym.function_offset;
			c->module = dup_or_null(sym.module);
			c->module_offset = sym.module_offset;
			c->file = dup_or_null(sym.file);
			c->line = sym.line;
		}
	}
}

static int cmp_caller(const void *a, const void *b)
{
	const struct usm_syscalls_caller *x = a, *y = b;

	return (x->samples < y->samples) - (x->samples > y->samples);
}

/* Hot first, then most short gaps, then most calls. */
static int cmp_site(const void *a, const void *b)
{
	const struct usm_syscalls_site *x = a, *y = b;

	if (x->hot != y->hot)
		return y->hot - x->hot;
	if (x->short_count != y->short_count)
		return (x->short_count < y->short_count) - (x->short_count > y->short_count);
	return (x->count < y->count) - (x->count > y->count);
}

static int collect(struct usm_syscalls *s, struct usm_syscalls_result *res)
{
	res->sites = calloc(s->st.nsites ? s->st.nsites : 1, sizeof(*res->sites));
	if (!res->sites)
		return -ENOMEM;
	for (size_t i = 0; i < s->st.nsites; i++) {
		struct sc_site *site = s->st.sites[i];
		struct usm_syscalls_site *o = &res->sites[res->nsites++];

		*o = site->out;
		site->out.module = site->out.function = NULL; /* moved */
		o->pid = site->pid;
		o->addr = site->addr;
		memcpy(o->nrs, site->nrs, sizeof(o->nrs));
		o->nnrs = site->nnrs;
		o->more_nrs = site->more_nrs;
		o->count = site->count;
		o->kernel_n = site->kern.n;
		o->kernel_ns_sum = site->kern.sum;
		o->kernel_ns_p50 = sc_hist_quantile(&site->kern, 0.5);
		o->kernel_ns_p99 = sc_hist_quantile(&site->kern, 0.99);
		o->gap_n = site->gap.n;
		o->gap_ns_sum = site->gap.sum;
		o->gap_ns_p50 = sc_hist_quantile(&site->gap, 0.5);
		o->gap_ns_p90 = sc_hist_quantile(&site->gap, 0.9);
		o->gap_ns_p99 = sc_hist_quantile(&site->gap, 0.99);
		o->short_count = site->short_count;
		o->hot = site->hot;
		o->hot_windows = site->hot_windows;
		o->stack_samples = site->stack_samples;
		o->stack_failed = site->stack_failed;
		symbolize_callers(s, o, site);
		qsort(o->callers, o->ncallers, sizeof(*o->callers), cmp_caller);
	}
	qsort(res->sites, res->nsites, sizeof(*res->sites), cmp_site);
	return 0;
}

static bool target_gone(struct usm_syscalls *s)
{
	if (s->own_child) {
		int status;

		if (!s->child_done && waitpid(s->target, &status, WNOHANG) == s->target) {
			s->child_done = true;
			s->child_status = status;
		}
		return s->child_done;
	}
	return kill(s->target, 0) < 0 && errno == ESRCH;
}

static void enable_all(struct usm_syscalls *s, bool on)
{
	for (size_t i = 0; i < s->nfds; i++)
		(on ? usm_os_perf_enable : usm_os_perf_disable)(s->fds[i]);
}

/* A phase observed at least this long: an end judged on a few records
 * would be noise. No phase goes on past a second: a window that starts
 * with it and is not closed by then cannot be hot. */
#define PHASE_MIN_NS 100000000ull
#define PHASE_MAX_NS USM_SYSCALLS_WINDOW_MAX_NS

int usm_syscalls_run(struct usm_syscalls *s, struct usm_syscalls_result *res)
{
	uint64_t start = usm_now_ns(), deadline = 0, phase_start = start, resume = 0, observed = 0;
	struct pollfd *pfd = calloc(s->ncpu, sizeof(*pfd));
	unsigned npfd = 0;
	bool on = true;
	int err = 0;

	memset(res, 0, sizeof(*res));
	res->exit_status = -1;
	res->phases = 1;
	if (!pfd)
		return -ENOMEM;
	for (unsigned c = 0; c < s->ncpu; c++)
		if (s->cpu_ok[c])
			pfd[npfd++] = (struct pollfd){ .fd = s->rings[c].fd, .events = POLLIN };
	if (s->cfg.duration_s > 0)
		deadline = start + (uint64_t)(s->cfg.duration_s * 1e9);
	sc_new_phase(&s->st);
	while (!s->stop && !err) {
		bool gone = target_gone(s);
		uint64_t now;

		if (!gone)
			poll(on ? pfd : NULL, on ? npfd : 0, 20);
		err = drain(s);
		if (!err)
			symbolize_new(s);
		now = usm_now_ns();
		if (gone || (deadline && now >= deadline))
			break;
		if (on && s->cfg.duty < 100 && now - phase_start >= PHASE_MIN_NS &&
		    (now - phase_start >= PHASE_MAX_NS || sc_phase_done(&s->st, now - phase_start))) {
			/* the pause: the phase's length times (100 - duty) / duty */
			enable_all(s, false);
			observed += now - phase_start;
			resume = now + (now - phase_start) * (100 - s->cfg.duty) / s->cfg.duty;
			on = false;
		} else if (!on && now >= resume) {
			sc_new_phase(&s->st); /* the pause's records were drained above */
			enable_all(s, true);
			phase_start = now;
			res->phases++;
			on = true;
		}
	}
	enable_all(s, false);
	if (on)
		observed += usm_now_ns() - phase_start;
	if (!err)
		err = drain(s);
	symbolize_new(s);
	free(pfd);
	if (err)
		return err;
	res->seconds = (double)(usm_now_ns() - start) / 1e9;
	res->observed_seconds = (double)observed / 1e9;
	for (unsigned c = 0; c < s->ncpu; c++)
		if (s->cpu_ok[c])
			res->lost += s->rings[c].lost;
	res->syscalls = s->st.syscalls;
	res->windows = s->st.windows;
	res->entry_exit_ns = s->entry_exit_ns;
	res->mounted_tracefs = s->mounted;
	if (s->own_child && s->child_done)
		res->exit_status = s->child_status;
	return collect(s, res);
}

void usm_syscalls_close(struct usm_syscalls *s)
{
	if (!s)
		return;
	if (s->rings)
		for (unsigned c = 0; c < s->ncpu; c++)
			if (s->cpu_ok[c])
				usm_os_perf_ring_unmap(&s->rings[c]);
	for (size_t i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	for (size_t i = 0; i < s->nunw; i++)
		usm_unwinder_close(s->unw[i].u);
	for (size_t i = 0; i < s->st.nsites; i++) {
		free(s->st.sites[i]->out.module);
		free(s->st.sites[i]->out.function);
	}
	sc_state_free(&s->st);
	free(s->unw);
	free(s->evs);
	free(s->ids);
	free(s->fds);
	free(s->rings);
	free(s->cpu_ok);
	free(s);
}

void usm_syscalls_result_free(struct usm_syscalls_result *res)
{
	for (size_t i = 0; i < res->nsites; i++) {
		struct usm_syscalls_site *o = &res->sites[i];

		free(o->module);
		free(o->function);
		for (size_t k = 0; k < o->ncallers; k++) {
			free(o->callers[k].function);
			free(o->callers[k].module);
			free(o->callers[k].file);
		}
		free(o->callers);
	}
	free(res->sites);
	memset(res, 0, sizeof(*res));
}
