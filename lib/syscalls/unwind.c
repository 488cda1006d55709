/* Unwinding perf user-stack samples with libdwfl's thread callbacks: the
 * registers come from the sample, memory reads from its stack copy, and
 * the CFI from the process's files (distribution libraries have no frame
 * pointers, so .eh_frame is the only way up). */
#include "syscalls/unwind.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"

struct usm_unwinder {
	Dwfl *dwfl;
	pid_t pid;
	bool attached;
	uint64_t refreshed_ms;
	dev_t exe_dev; /* the executable when the maps were read: an exec changes it */
	ino_t exe_ino;
	/* the sample being unwound, read by the callbacks */
	pid_t tid;
	const uint64_t *regs;
	const unsigned char *stack;
	size_t stack_size;
	uint64_t sp;
};

static char *debuginfo_path;

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct usm_unwinder *u = arg;

	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = u;
	return u->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct usm_unwinder *u = arg;

	(void)dwfl;
	*thread_argp = u;
	return tid == u->tid;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct usm_unwinder *u = arg;

	(void)dwfl;
	if (addr < u->sp || addr - u->sp + sizeof(*result) > u->stack_size)
		return false; /* beyond the copy perf took */
	memcpy(result, u->stack + (addr - u->sp), sizeof(*result));
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	struct usm_unwinder *u = thread_arg;
	Dwarf_Word regs[USM_UNWIND_NREGS];

	for (int i = 0; i < USM_UNWIND_NREGS; i++)
		regs[i] = u->regs[i];
	return dwfl_thread_state_registers(thread, 0, USM_UNWIND_NREGS, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static void exe_id(pid_t pid, dev_t *dev, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (stat(path, &st) == 0) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	} else {
		*dev = 0;
		*ino = 0;
	}
}

/* The maps are read whole first: a process that is exiting shows none, and
 * reporting nothing would drop every module we still need for names. */
static int report(struct usm_unwinder *u)
{
	char path[64], *maps = NULL;
	size_t len = 0;
	FILE *f, *mem;
	int err;

	u->refreshed_ms = usm_now_ms();
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)u->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	mem = open_memstream(&maps, &len);
	if (!mem) {
		fclose(f);
		return -ENOMEM;
	}
	for (int c; (c = getc(f)) != EOF;)
		putc(c, mem);
	fclose(f);
	fclose(mem);
	if (!len) {
		free(maps);
		return -ESRCH;
	}
	mem = fmemopen(maps, len, "r");
	if (!mem) {
		free(maps);
		return -ENOMEM;
	}
	exe_id(u->pid, &u->exe_dev, &u->exe_ino);
	dwfl_report_begin(u->dwfl);
	err = dwfl_linux_proc_maps_report(u->dwfl, mem);
	dwfl_report_end(u->dwfl, NULL, NULL);
	fclose(mem);
	free(maps);
	if (err)
		return err > 0 ? -err : -EINVAL;
	if (!u->attached)
		u->attached = dwfl_attach_state(u->dwfl, NULL, u->pid, &thread_callbacks, u);
	return 0;
}

int usm_unwinder_open(pid_t pid, struct usm_unwinder **out)
{
	struct usm_unwinder *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	u->pid = pid;
	u->dwfl = dwfl_begin(&callbacks);
	if (!u->dwfl) {
		free(u);
		return -ENOMEM;
	}
	err = report(u);
	if (err) {
		usm_unwinder_close(u);
		return err;
	}
	*out = u;
	return 0;
}

void usm_unwinder_close(struct usm_unwinder *u)
{
	if (!u)
		return;
	dwfl_end(u->dwfl);
	free(u);
}

void usm_unwinder_refresh(struct usm_unwinder *u)
{
	if (usm_now_ms() - u->refreshed_ms >= 100)
		report(u);
}

void usm_unwinder_check_exec(struct usm_unwinder *u)
{
	dev_t dev;
	ino_t ino;

	exe_id(u->pid, &dev, &ino);
	if (dev && (dev != u->exe_dev || ino != u->exe_ino))
		report(u);
}

int usm_unwinder_symbol(struct usm_unwinder *u, uint64_t addr, bool return_addr,
			struct usm_unwind_sym *sym)
{
	uint64_t look = return_addr ? addr - 1 : addr;
	Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, look);
	const char *mainfile = NULL, *name;
	GElf_Off off = 0;
	GElf_Sym esym;
	Dwarf_Addr bias = 0, start = 0;
	Dwfl_Line *line;

	memset(sym, 0, sizeof(*sym));
	if (!mod)
		return -ENOENT;
	name = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, &mainfile, NULL);
	sym->module = mainfile ? mainfile : name;
	if (!dwfl_module_getelf(mod, &bias))
		bias = start;
	sym->module_offset = addr - bias;
	sym->function = dwfl_module_addrinfo(mod, look, &off, &esym, NULL, NULL, NULL);
	sym->function_offset = off + (look != addr);
	line = dwfl_module_getsrc(mod, look);
	if (line)
		sym->file = dwfl_lineinfo(line, NULL, &sym->line, NULL, NULL, NULL);
	return 0;
}

/* The C library's and the loader's own objects: their frames are the
 * wrappers every syscall goes through, not the program's call site. */
static bool is_libc(const char *path)
{
	static const char *const names[] = { "libc.so", "libc-", "libpthread", "ld-linux", "ld64.so",
					     "[vdso]", "linux-vdso" };
	const char *base;

	if (!path)
		return false;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(base, names[i], strlen(names[i])))
			return true;
	return false;
}

struct walk {
	struct usm_unwinder *u;
	int frames;
	uint64_t caller;
	bool found, unknown;
};

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	bool activation;
	Dwfl_Module *mod;
	const char *name, *mainfile = NULL;

	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	w->frames++;
	mod = dwfl_addrmodule(w->u->dwfl, activation ? pc : pc - 1);
	name = mod ? dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &mainfile, NULL) : NULL;
	if (!mod)
		w->unknown = true; /* a module loaded after the maps were read */
	if (mod && !is_libc(mainfile ? mainfile : name)) {
		w->caller = pc;
		w->found = true;
		return DWARF_CB_ABORT;
	}
	return w->frames >= 32 ? DWARF_CB_ABORT : DWARF_CB_OK;
}

int usm_unwinder_caller(struct usm_unwinder *u, pid_t tid, const uint64_t regs[USM_UNWIND_NREGS],
			const void *stack, size_t stack_size, uint64_t *caller)
{
	struct walk w = { .u = u };

	if (!u->attached)
		return -EINVAL;
	u->tid = tid;
	u->regs = regs;
	u->stack = stack;
	u->stack_size = stack_size;
	u->sp = regs[7];
	dwfl_getthread_frames(u->dwfl, tid, frame_cb, &w);
	u->regs = NULL;
	u->stack = NULL;
	if (w.found) {
		*caller = w.caller;
		return 0;
	}
	return w.frames && !w.unknown ? -ENOENT : -EINVAL;
}
