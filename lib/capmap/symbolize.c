/* Symbolization with libdwfl (elfutils): the maps copy is reported as the
 * process's modules, then each address is found in its module's symbol
 * table and line table. Debuginfo comes from the files themselves or the
 * usual debug paths (/usr/lib/debug). */
#include <usm/symbolize.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "os/kallsyms.h"

/* One of the two: a process's modules, or the kernel's symbols. */
struct usm_symbolizer {
	Dwfl *dwfl;
	struct usm_os_kallsyms *ksyms;
};

static char *debuginfo_path;

static const Dwfl_Callbacks callbacks = {
        .find_elf = dwfl_linux_proc_find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .debuginfo_path = &debuginfo_path,
};

int usm_symbolizer_open(const char *maps_path, struct usm_symbolizer **out)
{
	struct usm_symbolizer *s;
	FILE *f;
	int err = 0;

	f = fopen(maps_path, "re");
	if (!f)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s) {
		fclose(f);
		return -ENOMEM;
	}
	s->dwfl = dwfl_begin(&callbacks);
	if (!s->dwfl) {
		err = -ENOMEM;
		goto fail;
	}
	dwfl_report_begin(s->dwfl);
	if (dwfl_linux_proc_maps_report(s->dwfl, f) != 0)
		err = -EINVAL;
	dwfl_report_end(s->dwfl, NULL, NULL);
	if (err)
		goto fail;
	fclose(f);
	*out = s;
	return 0;
fail:
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s);
	fclose(f);
	return err;
}

int usm_symbolizer_open_kallsyms(const char *path, struct usm_symbolizer **out)
{
	struct usm_symbolizer *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->ksyms = calloc(1, sizeof(*s->ksyms));
	if (!s->ksyms) {
		free(s);
		return -ENOMEM;
	}
	err = usm_os_kallsyms_load(path, s->ksyms);
	if (err) {
		free(s->ksyms);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

static int symbolize_kernel(const struct usm_os_kallsyms *k, uint64_t addr, struct usm_symbol *sym)
{
	long i = usm_os_kallsyms_find(k, addr);

	if (i < 0)
		return -ENOENT;
	sym->function = k->syms[i].name;
	sym->module = k->syms[i].module ? k->syms[i].module : "vmlinux";
	sym->offset = addr - k->syms[i].addr;
	return 0;
}

/* libdwfl finds an address's compile unit through .debug_aranges, which
 * clang does not emit unless asked (-gdwarf-aranges): then ask each unit
 * whether it covers the address. */
static Dwarf_Line *line_by_units(Dwfl_Module *m, uint64_t addr)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = NULL;

	while ((cu = dwfl_module_nextcu(m, cu, &bias)))
		if (dwarf_haspc(cu, (Dwarf_Addr)addr - bias) > 0)
			return dwarf_getsrc_die(cu, (Dwarf_Addr)addr - bias);
	return NULL;
}

int usm_symbolize(struct usm_symbolizer *s, uint64_t addr, struct usm_symbol *sym)
{
	Dwfl_Module *m;
	GElf_Off off = 0;
	GElf_Sym esym;
	Dwfl_Line *line;

	sym->function = sym->file = sym->module = NULL;
	sym->line = 0;
	sym->offset = 0;
	if (s->ksyms)
		return symbolize_kernel(s->ksyms, addr, sym);
	m = dwfl_addrmodule(s->dwfl, (Dwarf_Addr)addr);
	if (!m)
		return -ENOENT;
	sym->module = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	sym->function = dwfl_module_addrinfo(m, (GElf_Addr)addr, &off, &esym, NULL, NULL, NULL);
	sym->offset = off;
	line = dwfl_module_getsrc(m, (Dwarf_Addr)addr);
	if (line) {
		int lineno = 0;

		sym->file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
		sym->line = lineno;
	} else {
		Dwarf_Line *dl = line_by_units(m, addr);
		int lineno = 0;

		if (dl && dwarf_lineno(dl, &lineno) == 0) {
			sym->file = dwarf_linesrc(dl, NULL, NULL);
			sym->line = lineno;
		}
	}
	return 0;
}

void usm_symbolizer_close(struct usm_symbolizer *s)
{
	if (!s)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	if (s->ksyms) {
		usm_os_kallsyms_free(s->ksyms);
		free(s->ksyms);
	}
	free(s);
}
