/* libusm-trace internals: the state every file of the runtime shares.
 *
 * The runtime lives inside the traced program. It must never call back
 * into itself through the program's allocator (hence its own pools and
 * raw syscalls), never be instrumented (it is built without sanitizers),
 * and export nothing but the interposed and callback symbols (RT_EXPORT). */
#ifndef USM_TRACE_RT_H
#define USM_TRACE_RT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RT_EXPORT      __attribute__((visibility("default")))
#define RT_TLS         __attribute__((tls_model("initial-exec")))
#define RT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RT_LIKELY(x)   __builtin_expect(!!(x), 1)

/* Relaxed atomics: counters and flags are read by the dump thread while
 * the program's threads write them; ordering never matters, tearing would. */
#define RT_LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define RT_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

enum rt_allocator {
	RT_ALLOC_MALLOC,
	RT_ALLOC_CALLOC,
	RT_ALLOC_REALLOC,
	RT_ALLOC_MEMALIGN,
	RT_ALLOC_MMAP,
	RT_ALLOC_GLOBAL,
};

enum rt_obj_state {
	RT_OBJ_UNUSED, /* being set up, or in the pool's free list */
	RT_OBJ_LIVE,
	RT_OBJ_DEAD,    /* freed, not yet in a dump */
	RT_OBJ_PRINTED, /* freed and written by a dump (Memorizer's printed list) */
};

/* One (access IP, thread) pair of one object. Owned by the object; only
 * its thread increments it, so plain relaxed stores suffice. */
struct rt_access {
	uintptr_t ip;
	uint64_t reads;
	uint64_t writes;
	struct rt_access *next;
	pid_t tid;
};

/* An object's counters by (access IP, thread): open addressing, grown by
 * doubling under the object's lock, read without it (access.c). */
struct rt_slot {
	uintptr_t ip;
	struct rt_access *acc;
};

struct rt_table {
	uint32_t cap; /* a power of two, fixed for this memory (one pool per size) */
	uint32_t n;
	struct rt_slot slots[];
};

struct rt_obj {
	uintptr_t va;
	size_t size;   /* what the program asked for: the CAPMAP's size */
	size_t extent; /* what the program may touch (malloc_usable_size) */
	size_t cache;  /* usable size for the malloc family, 0 for "-" */
	uintptr_t alloc_ip;
	uintptr_t free_ip;
	uint64_t alloc_ns;
	uint64_t free_ns;
	struct rt_access *accesses;  /* every counter, for the dump */
	struct rt_table *table;      /* the same, by (IP, thread), for counting */
	struct rt_obj *prev, *next;  /* the list of all objects, per list shard */
	uint32_t gen;                /* bumped at each reuse of this struct and at its free */
	uint32_t lock;               /* guards adding counters (access.c) */
	pid_t tid;
	uint16_t name_id;
	uint8_t allocator;
	uint8_t state;
	uint8_t list_shard;
	uint8_t table_full; /* the table is at its largest: look in the list too */
};

/* rt_alloc.c: memory for the runtime itself, from mmap, never malloc. */
void *rt_mmap(size_t len);
void *rt_reserve(size_t len); /* address space only: what is written takes memory */
void rt_munmap(void *p, size_t len);
struct rt_pool {
	pthread_mutex_t lock;
	size_t item;
	void *free; /* items threads gave back beyond what they keep */
	char *chunk, *chunk_end;
	int id; /* which per-thread cache serves it (0: not yet chosen) */
};
#define RT_POOL_INIT(size) {.lock = PTHREAD_MUTEX_INITIALIZER, .item = (size)}
/* Not zeroed: a recycled item keeps its contents (rt_obj keeps its gen);
 * fresh ones are zero, from mmap. Each thread keeps a cache of items per
 * pool, so a get or put takes no lock unless that cache runs dry or over. */
void *rt_pool_get(struct rt_pool *pool);
void rt_pool_put(struct rt_pool *pool, void *p);
void rt_pool_thread_exit(void); /* gives the caller's cached items back */
void rt_pool_lock(struct rt_pool *pool);
void rt_pool_unlock(struct rt_pool *pool);
void rt_pool_reinit(struct rt_pool *pool);

/* runtime.c: configuration, clock, process identity, fork. */
struct rt_state {
	int active;     /* set up by usm trace (USM_TRACE_ACTIVE=1) */
	int ready;      /* constructor done */
	int finished;   /* final dump written: record nothing more */
	int enabled;    /* Memorizer's memorizer_enabled */
	int log_access; /* memorizer_log_access */
	int print_live; /* print_live_obj */
	int json;
	pid_t pid;
	pid_t root_pid;
	uint64_t t0;
	char output[PATH_MAX]; /* this process's capmap path */
};
extern struct rt_state rt;

/* Read on every access: all of active, ready, enabled, log_access and not
 * finished, folded into one flag by rt_update_flags(). Exported: the code
 * the trace pass emits reads it inline (inline_abi.h). */
extern int rt_record_accesses __asm__("__usm_trace_on");
extern int rt_record_objects;
void rt_update_flags(void);

uint64_t rt_now(void);
pid_t rt_gettid(void);

/* The per-thread guard: set while the runtime runs, so that what libc
 * allocates for it is passed through untracked instead of recursing. */
extern __thread int rt_busy RT_TLS;

/* cxx.c: the IP of the C++ operator new or delete call in progress, which
 * malloc and free then record instead of their own caller (0: none). */
extern __thread uintptr_t rt_caller_ip RT_TLS;

/* objects.c: life of objects and the list a dump walks. */
struct rt_obj *rt_obj_new(uintptr_t va, size_t size, size_t extent, size_t cache,
                          enum rt_allocator allocator, uintptr_t ip, uint64_t now);
void rt_obj_free(struct rt_obj *o, uintptr_t ip, uint64_t now);
void rt_obj_set_extent(struct rt_obj *o, size_t extent);
void rt_objs_clear(bool printed_only);
typedef void (*rt_obj_fn)(struct rt_obj *o, void *arg);
void rt_objs_walk(rt_obj_fn fn, void *arg); /* holds each list shard's lock */
void rt_objs_atfork(int phase);
uint16_t rt_name_intern(const char *name);
const char *rt_name(uint16_t id);

/* index.c: live objects by address. */
bool rt_index_init(void); /* false: no address space for it */
void rt_index_insert(struct rt_obj *o);
void rt_index_remove(struct rt_obj *o);
void rt_index_extend(struct rt_obj *o, size_t old_extent); /* it grew from that */
struct rt_obj *rt_index_lookup(uintptr_t addr);

/* access.c: counting loads and stores. */
void rt_obj_drop_table(struct rt_obj *o); /* at its free */
void rt_obj_release_counters(struct rt_obj *o);
void rt_thread_atfork_child(void);
void rt_access_atfork(int phase);
uint16_t rt_thread_name_id(void);

/* modules.c: which loaded modules are instrumented. */
void rt_module_add(uintptr_t any_addr);
bool rt_ip_instrumented(uintptr_t ip);
void rt_modules_atfork(int phase);

/* capmap_write.c */
int rt_capmap_write(const char *path, bool json, long *nobjs);
void rt_capmap_atfork(int phase);

/* ctl.c: the control socket. */
void rt_ctl_start(void);
/* Runs one control command line; writes a one-line reply to reply. */
void rt_ctl_command(const char *line, char *reply, size_t len);

enum { RT_FORK_PREPARE, RT_FORK_PARENT, RT_FORK_CHILD };

/* The real allocator, under the names glibc exports for interposers. */
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void __libc_free(void *p);
void *__libc_memalign(size_t align, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);

#endif
