/* Installs the hooks over libc's own entry points.
 *
 * Interposing symbols (LD_PRELOAD alone) would miss glibc's internal calls:
 * malloc reaches mmap, munmap, mremap, madvise and brk through hidden
 * aliases that bind inside libc. Those aliases are the same code as the
 * public functions, so overwriting the first bytes of each function with an
 * absolute jump to the hook catches every caller in the process. The whole
 * wrapper is replaced, never resumed, so no instruction needs relocating:
 * the only requirement is that the function is longer than the jump, which
 * the dynamic symbol table's size tells. Cost per intercepted call: one
 * indirect jump. Calls that bypass libc's wrappers (syscall(2), inline
 * system calls in static code) are not seen; see docs/run.md. */
#include "tagger.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "base/page.h"
#include "os/vm.h"

#if defined(__x86_64__)
#define JUMP_SIZE 14 /* jmp *0(%rip); .quad target */
#else
/* Without this, another architecture would build and overwrite libc with x86 code. */
#error "patch.c writes x86-64 jumps over libc: port write_jump() and JUMP_SIZE"
#endif

struct patch {
	const char *name;
	void *hook;
	void *target;
};

static int make_writable(void *addr, size_t len, bool writable)
{
	uintptr_t page = usm_page_down((uintptr_t)addr);
	size_t span = usm_page_up((uintptr_t)addr + len - page);
	int prot = PROT_READ | PROT_EXEC | (writable ? PROT_WRITE : 0);
	long rc = usm_os_mprotect((void *)page, span, prot);

	return rc < 0 ? (int)rc : 0;
}

static int find_target(void *libc, struct patch *p)
{
	Dl_info info;
	const ElfW(Sym) *sym = NULL;

	p->target = dlsym(libc, p->name);
	if (!p->target)
		return -ENOENT;
	if (!dladdr1(p->target, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
	    sym->st_size < JUMP_SIZE)
		return -ENOEXEC;
	return 0;
}

static int write_jump(void *at, void *to)
{
	uint8_t code[JUMP_SIZE] = { 0xff, 0x25, 0, 0, 0, 0 };
	int rc;

	memcpy(code + 6, &to, sizeof(to));
	rc = make_writable(at, JUMP_SIZE, true);
	if (rc < 0)
		return rc;
	memcpy(at, code, JUMP_SIZE);
	__builtin___clear_cache((char *)at, (char *)at + JUMP_SIZE);
	return make_writable(at, JUMP_SIZE, false);
}

int tagger_patch_libc(void)
{
	struct patch patches[] = {
		{ "mmap", (void *)tagger_mmap, NULL },
		{ "mmap64", (void *)tagger_mmap, NULL },
		{ "munmap", (void *)tagger_munmap, NULL },
		{ "mremap", (void *)tagger_mremap, NULL },
		{ "madvise", (void *)tagger_madvise, NULL },
		{ "brk", (void *)tagger_brk, NULL },
		{ "_exit", (void *)tagger_exit_now, NULL },
	};
	const size_t n = sizeof(patches) / sizeof(patches[0]);
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	int rc = 0;

	if (!libc)
		return -ENOENT;
	/* check every target before changing any, so a failure patches nothing */
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = find_target(libc, &patches[i]);
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool done = false;
		for (size_t k = 0; k < i; k++)
			done |= patches[k].target == patches[i].target; /* aliases */
		if (!done)
			rc = write_jump(patches[i].target, patches[i].hook);
	}
	dlclose(libc);
	return rc;
}
