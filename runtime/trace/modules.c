/* Which loaded modules were built by usm cc. Each instrumented module's
 * constructor calls into the runtime (__asan_init and friends); the
 * address it calls from names the module, whose executable segments are
 * kept here. The interposed string functions count an access only when
 * their caller is one of these, so that uninstrumented libraries stay
 * unseen, as their own loads and stores are. */
#include "rt.h"

#include <link.h>

#define NMODULES 64

static struct {
	uintptr_t start, end;
} modules[NMODULES];
static int nmodules;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

struct find {
	uintptr_t addr;
	bool found;
};

static int add_if_contains(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find *f = arg;
	bool hit = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && f->addr - lo < ph->p_memsz)
			hit = true;
	}
	if (!hit)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && nmodules < NMODULES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		bool dup = false;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		for (int j = 0; j < nmodules; j++)
			dup |= modules[j].start == lo;
		if (dup)
			continue;
		modules[nmodules].start = lo;
		RT_STORE(&modules[nmodules].end, lo + ph->p_memsz);
		__atomic_store_n(&nmodules, nmodules + 1, __ATOMIC_RELEASE);
	}
	f->found = true;
	return 1;
}

void rt_module_add(uintptr_t any_addr)
{
	struct find f = {any_addr, false};

	if (rt_ip_instrumented(any_addr))
		return;
	rt_busy++;
	pthread_mutex_lock(&modules_lock);
	dl_iterate_phdr(add_if_contains, &f);
	pthread_mutex_unlock(&modules_lock);
	rt_busy--;
}

bool rt_ip_instrumented(uintptr_t ip)
{
	int n = __atomic_load_n(&nmodules, __ATOMIC_ACQUIRE);

	for (int i = 0; i < n; i++)
		if (ip - modules[i].start < modules[i].end - modules[i].start)
			return true;
	return false;
}

void rt_modules_atfork(int phase)
{
	if (phase == RT_FORK_PREPARE)
		pthread_mutex_lock(&modules_lock);
	else if (phase == RT_FORK_PARENT)
		pthread_mutex_unlock(&modules_lock);
	else
		pthread_mutex_init(&modules_lock, NULL);
}
