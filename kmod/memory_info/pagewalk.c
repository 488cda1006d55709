// SPDX-License-Identifier: GPL-2.0
/*
 * Page-table walk of one mm, by hand: walk_page_range(), vm_normal_page()
 * and follow_page() are not exported to modules on Debian's 6.1.
 *
 * pgd -> p4d -> pud -> pmd -> pte under mmap_read_lock. Huge entries are
 * re-checked under their lock before being trusted. Under a page-table
 * spinlock we only take page references into a preallocated batch; hashing
 * (kmap_local_page) and growing the store happen after the unlock.
 */
#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/version.h>

#include "memory_info.h"

/* pte_devmap()/pmd_devmap() and their ZONE_DEVICE pages left in 6.17. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 17, 0)
#define mi_pte_devmap(p) pte_devmap(p)
#define mi_pmd_devmap(p) pmd_devmap(p)
#define mi_pud_devmap(p) pud_devmap(p)
#else
#define mi_pte_devmap(p) 0
#define mi_pmd_devmap(p) 0
#define mi_pud_devmap(p) 0
#endif

/* How many times a vanished or replaced page table is re-read. */
#define MI_PTE_RETRIES 3

#ifdef CONFIG_HIGHPTE
#error "page tables in highmem: mi_pte_map_lock() would need kmap"
#endif

/*
 * pte_offset_map_lock() by hand: since 6.5 it calls __pte_offset_map_lock(),
 * which is not exported. Page tables may then be freed (RCU-deferred) under
 * mmap_read_lock, hence rcu_read_lock and the pmd re-check once the table is
 * locked. On 6.1 neither can happen under mmap_read_lock; they cost nothing.
 * Returns NULL when *pmdp is no longer a page table.
 */
static pte_t *mi_pte_map_lock(struct mm_struct *mm, pmd_t *pmdp,
			      unsigned long addr, spinlock_t **ptlp)
{
	spinlock_t *ptl;
	pmd_t pmd;

	rcu_read_lock();
	pmd = READ_ONCE(*pmdp);
	if (pmd_none(pmd) || !pmd_present(pmd) || pmd_leaf(pmd) ||
	    pmd_bad(pmd))
		goto fail;
	ptl = pte_lockptr(mm, &pmd);
	spin_lock(ptl);
	if (!pmd_same(pmd, READ_ONCE(*pmdp))) {
		spin_unlock(ptl);
		goto fail;
	}
	*ptlp = ptl;
	return pte_offset_kernel(&pmd, addr);
fail:
	rcu_read_unlock();
	return NULL;
}

static void mi_pte_unmap_unlock(spinlock_t *ptl)
{
	spin_unlock(ptl);
	rcu_read_unlock();
}

/*
 * @nr subpages from @page (a huge mapping, one reference held by the caller):
 * one reference per subpage for the store, each 4 KiB part hashed alone.
 */
static int mi_add_huge(struct mi_walk *w, struct page *page, unsigned long nr)
{
	unsigned long i;
	int err;

	err = mi_store_reserve(w->store, nr);
	if (err)
		return err;
	for (i = 0; i < nr; i++) {
		/* By pfn: a gigantic page's memmap need not be contiguous. */
		struct page *sub = pfn_to_page(page_to_pfn(page) + i);

		get_page(sub);
		mi_store_add(w->store, sub);
		if ((i & 63) == 63)
			cond_resched();
	}
	return 0;
}

/*
 * Hashes the nr pages of a leaf whose page the caller got a reference on
 * (NULL: nothing to hash), then drops it. Returns 1 (handled) or <0.
 */
static int mi_hash_leaf(struct mi_walk *w, struct page *page, unsigned long nr)
{
	int err;

	if (!page)
		return 1;
	err = mi_add_huge(w, page, nr);
	put_page(page);
	return err ? err : 1;
}

/*
 * A pmd that is (or was, when read without the lock) a leaf: THP, hugetlb,
 * devmap, or a non-present migration entry. Returns 1 when handled, 0 when
 * the pmd now points to a page table (split meanwhile), <0 on error.
 */
static int mi_walk_huge_pmd(struct mi_walk *w, pmd_t *pmdp,
			    unsigned long addr, unsigned long end)
{
	unsigned long nr = (end - addr) >> PAGE_SHIFT;
	struct page *page = NULL;
	spinlock_t *ptl;
	pmd_t pmd;

	ptl = pmd_lock(w->mm, pmdp);
	pmd = READ_ONCE(*pmdp);
	if (pmd_none(pmd) || !pmd_present(pmd)) {
		/* Gone, or being migrated: not present, nothing valid. */
		spin_unlock(ptl);
		return 1;
	}
	if (!pmd_leaf(pmd)) {
		spin_unlock(ptl);
		return 0;
	}
	w->valid += nr;
	if (w->hash && !mi_pmd_devmap(pmd)) {
		unsigned long pfn = pmd_pfn(pmd) +
				    ((addr & ~PMD_MASK) >> PAGE_SHIFT);

		if (pfn_valid(pfn)) {
			/* Keeps the huge page alive once the lock is dropped. */
			page = pfn_to_page(pfn);
			get_page(page);
		}
	}
	spin_unlock(ptl);
	return mi_hash_leaf(w, page, nr);
}

/* Same for a pud leaf (1 GiB hugetlb or devmap); 262144 pages each. */
static int mi_walk_huge_pud(struct mi_walk *w, pud_t *pudp,
			    unsigned long addr, unsigned long end)
{
	unsigned long nr = (end - addr) >> PAGE_SHIFT;
	struct page *page = NULL;
	spinlock_t *ptl;
	pud_t pud;

	ptl = pud_lock(w->mm, pudp);
	pud = READ_ONCE(*pudp);
	if (pud_none(pud) || !pud_present(pud)) {
		spin_unlock(ptl);
		return 1;
	}
	if (!pud_leaf(pud)) {
		spin_unlock(ptl);
		return 0;
	}
	w->valid += nr;
	if (w->hash && !mi_pud_devmap(pud)) {
		unsigned long pfn = pud_pfn(pud) +
				    ((addr & ~PUD_MASK) >> PAGE_SHIFT);

		if (pfn_valid(pfn)) {
			page = pfn_to_page(pfn);
			get_page(page);
		}
	}
	spin_unlock(ptl);
	return mi_hash_leaf(w, page, nr);
}

/*
 * PTEs of one page table, [addr, end) inside one pmd: at most MI_BATCH
 * entries, so the batch never overflows. Returns -EAGAIN if *pmdp is no
 * longer a page table (split or collapsed meanwhile): the caller re-reads.
 */
static int mi_walk_ptes(struct mi_walk *w, pmd_t *pmdp,
			unsigned long addr, unsigned long end)
{
	unsigned int nb = 0, i;
	spinlock_t *ptl;
	pte_t *start, *ptep;
	int err;

	start = mi_pte_map_lock(w->mm, pmdp, addr, &ptl);
	if (!start)
		return -EAGAIN;
	for (ptep = start; addr != end; addr += PAGE_SIZE, ptep++) {
		pte_t pte = ptep_get(ptep);
		unsigned long pfn;
		struct page *page;

		if (!pte_present(pte))
			continue;	/* none, swapped out, migrating */
		w->valid++;
		if (!w->hash)
			continue;
		pfn = pte_pfn(pte);
		if (is_zero_pfn(pfn)) {
			w->batch[nb++] = NULL;	/* zeros, no reference */
			continue;
		}
		/* No refcounted struct page behind special or devmap ptes. */
		if (pte_special(pte) || mi_pte_devmap(pte) || !pfn_valid(pfn))
			continue;
		page = pfn_to_page(pfn);
		get_page(page);
		w->batch[nb++] = page;
	}
	mi_pte_unmap_unlock(ptl);

	err = mi_store_reserve(w->store, nb);
	if (err) {
		for (i = 0; i < nb; i++)
			if (w->batch[i])
				put_page(w->batch[i]);
		return err;
	}
	for (i = 0; i < nb; i++)
		mi_store_add(w->store, w->batch[i]);	/* hashes the page */
	return 0;
}

static int mi_walk_pmds(struct mi_walk *w, pud_t *pudp,
			unsigned long addr, unsigned long end)
{
	unsigned long next;
	pmd_t *pmdp;
	int err, tries;

	pmdp = pmd_offset(pudp, addr);
	do {
		next = pmd_addr_end(addr, end);
		for (tries = 0; tries < MI_PTE_RETRIES; tries++) {
			pmd_t pmd = READ_ONCE(*pmdp);

			if (pmd_none(pmd))
				break;
			if (pmd_leaf(pmd) || !pmd_present(pmd)) {
				err = mi_walk_huge_pmd(w, pmdp, addr, next);
				if (err < 0)
					return err;
				if (err)
					break;
				/* split into a page table meanwhile */
			} else if (pmd_bad(pmd)) {
				break;
			}
			err = mi_walk_ptes(w, pmdp, addr, next);
			if (err != -EAGAIN) {
				if (err)
					return err;
				break;
			}
		}
		cond_resched();
	} while (pmdp++, addr = next, addr != end);
	return 0;
}

static int mi_walk_puds(struct mi_walk *w, p4d_t *p4dp,
			unsigned long addr, unsigned long end)
{
	unsigned long next;
	pud_t *pudp;
	int err;

	pudp = pud_offset(p4dp, addr);
	do {
		pud_t pud = READ_ONCE(*pudp);

		next = pud_addr_end(addr, end);
		if (pud_none(pud))
			continue;
		if (pud_leaf(pud) || !pud_present(pud)) {
			err = mi_walk_huge_pud(w, pudp, addr, next);
			if (err < 0)
				return err;
			if (err)
				continue;
			pud = READ_ONCE(*pudp);	/* became a pmd table */
		}
		if (pud_bad(pud))
			continue;
		err = mi_walk_pmds(w, pudp, addr, next);
		if (err)
			return err;
	} while (pudp++, addr = next, addr != end);
	return 0;
}

static int mi_walk_p4ds(struct mi_walk *w, pgd_t *pgdp,
			unsigned long addr, unsigned long end)
{
	unsigned long next;
	p4d_t *p4dp;
	int err;

	p4dp = p4d_offset(pgdp, addr);
	do {
		p4d_t p4d = READ_ONCE(*p4dp);

		next = p4d_addr_end(addr, end);
		if (p4d_none(p4d) || p4d_bad(p4d))
			continue;
		err = mi_walk_puds(w, p4dp, addr, next);
		if (err)
			return err;
	} while (p4dp++, addr = next, addr != end);
	return 0;
}

static int mi_walk_range(struct mi_walk *w, unsigned long addr,
			 unsigned long end)
{
	unsigned long next;
	pgd_t *pgdp;
	int err;

	pgdp = pgd_offset(w->mm, addr);
	do {
		pgd_t pgd = READ_ONCE(*pgdp);

		next = pgd_addr_end(addr, end);
		if (pgd_none(pgd) || pgd_bad(pgd))
			continue;
		err = mi_walk_p4ds(w, pgdp, addr, next);
		if (err)
			return err;
	} while (pgdp++, addr = next, addr != end);
	return 0;
}

/* memfd_secret pages are removed from the kernel's direct map: never kmap. */
static bool mi_vma_secret(struct vm_area_struct *vma)
{
	return vma->vm_file &&
	       file_inode(vma->vm_file)->i_sb->s_magic == SECRETMEM_MAGIC;
}

/*
 * Every vma of w->mm, caller holding mmap_read_lock. Adds the present pages
 * to w->valid and, for readable vmas, one store entry per present page.
 */
int mi_walk_mm(struct mi_walk *w)
{
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, w->mm, 0);
	int err = 0;

	for_each_vma(vmi, vma) {
		struct address_space *mapping = NULL;

		/* No struct page behind them (e.g. [vvar]); still in total. */
		if (vma->vm_flags & (VM_IO | VM_PFNMAP))
			continue;
		w->hash = (vma->vm_flags & VM_READ) && !mi_vma_secret(vma);

		/*
		 * Shared hugetlb mappings may share pmd tables with other mms,
		 * and huge_pmd_unshare() (truncate, another mm's munmap) can
		 * free one without our mmap_lock: it needs i_mmap_rwsem for
		 * write, so hold it for read. Nothing may allocate under it
		 * (reclaim takes it too): reserve the worst case first.
		 */
		if (is_vm_hugetlb_page(vma) && (vma->vm_flags & VM_MAYSHARE) &&
		    vma->vm_file) {
			if (w->hash) {
				err = mi_store_reserve(w->store, vma_pages(vma));
				if (err)
					return err;
			}
			mapping = vma->vm_file->f_mapping;
			i_mmap_lock_read(mapping);
			w->store->no_alloc = true;
		}
		err = mi_walk_range(w, vma->vm_start, vma->vm_end);
		if (mapping) {
			w->store->no_alloc = false;
			i_mmap_unlock_read(mapping);
		}
		if (err)
			return err;
	}
	return 0;
}
