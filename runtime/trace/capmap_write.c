/* Writes the CAPMAP in the format of Memorizer's kmap writer (see
 * docs/capmap.md, the interface this must keep): an object line, then its
 * access lines indented by two spaces. Or the same data as JSON.
 *
 * Everything goes through a buffer and write(2): no stdio, no malloc, so a
 * dump is safe from any thread, and in a fork child. JSON is written by
 * hand for the same reason; the only string that needs escaping is the
 * process name. A copy of /proc/self/maps goes beside it (PATH.maps) so
 * that usm trace report can symbolize IPs of a process that is gone. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct out {
	int fd;
	int err;
	size_t len;
	bool json;
	bool first;
	long nobjs;
	char buf[1 << 16];
};

static void flush(struct out *o)
{
	size_t off = 0;

	while (off < o->len && !o->err) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->err = n < 0 ? errno : EIO;
		else
			off += (size_t)n;
	}
	o->len = 0;
}

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sizeof(o->buf) - o->len < 512)
		flush(o);
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < sizeof(o->buf) - o->len ? (size_t)n : 0;
}

/* Hand-made number formatting: a CAPMAP has millions of lines, and these
 * are several times faster than printf's. The _at forms write at p and
 * return the end, for callers that made room for a whole line. */
#define LINE_MAX_ 96 /* an access line: 2 + 16 + 1 + 20 + 1 + 20 + 1 + 10 + 1 */

static void room(struct out *o, size_t n)
{
	if (sizeof(o->buf) - o->len < n)
		flush(o);
}

static char *hex_at(char *p, uint64_t v)
{
	int n = v ? (64 - __builtin_clzll(v) + 3) / 4 : 1;

	for (int i = n - 1; i >= 0; i--, v >>= 4)
		p[i] = "0123456789abcdef"[v & 15];
	return p + n;
}

static char *dec_at(char *p, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
	                            "25262728293031323334353637383940414243444546474849"
	                            "50515253545556575859606162636465666768697071727374"
	                            "75767778798081828384858687888990919293949596979899";
	char tmp[20];
	int n = 20;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		tmp[--n] = pairs[d + 1];
		tmp[--n] = pairs[d];
	}
	if (v >= 10) {
		tmp[--n] = pairs[v * 2 + 1];
		tmp[--n] = pairs[v * 2];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	while (n < 20)
		*p++ = tmp[n++];
	return p;
}

static void put_hex(struct out *o, uint64_t v)
{
	room(o, 24);
	o->len = (size_t)(hex_at(o->buf + o->len, v) - o->buf);
}

static void put_dec(struct out *o, uint64_t v)
{
	room(o, 24);
	o->len = (size_t)(dec_at(o->buf + o->len, v) - o->buf);
}

/* "  access_ip,writes,reads,tid\n": the line written most, in one go. */
static void put_access(struct out *o, uintptr_t ip, uint64_t w, uint64_t r, pid_t tid)
{
	char *p;

	room(o, LINE_MAX_);
	p = o->buf + o->len;
	*p++ = ' ';
	*p++ = ' ';
	p = hex_at(p, ip);
	*p++ = ',';
	p = dec_at(p, w);
	*p++ = ',';
	p = dec_at(p, r);
	*p++ = ',';
	p = dec_at(p, (uint64_t)(uint32_t)tid);
	*p++ = '\n';
	o->len = (size_t)(p - o->buf);
}

static void put_str(struct out *o, const char *s)
{
	size_t n = strlen(s);

	room(o, n + 1);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_ch(struct out *o, char c)
{
	room(o, 1);
	o->buf[o->len++] = c;
}

static const char *allocator_name(uint8_t a)
{
	static const char *const names[] = {"malloc",   "calloc", "realloc",
	                                    "memalign", "mmap",   "global"};

	return a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

static void json_string(struct out *o, const char *s)
{
	put(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c < 0x20)
			put(o, "\\u%04x", c);
		else
			put(o, "%c", c);
	}
	put(o, "\"");
}

static void write_obj(struct rt_obj *ob, void *arg)
{
	struct out *o = arg;
	char cache[24] = "-";
	bool first = true;

	if (ob->state == RT_OBJ_UNUSED || ob->state == RT_OBJ_PRINTED)
		return;
	if (ob->state == RT_OBJ_LIVE && !RT_LOAD(&rt.print_live))
		return;
	if (ob->cache)
		snprintf(cache, sizeof(cache), "%zu", ob->cache);
	o->nobjs++;
	if (o->json) {
		put(o,
		    "%s\n{\"alloc_ip\":\"%" PRIxPTR "\",\"pid\":%d,\"va\":\"%" PRIxPTR
		    "\",\"size\":%zu,\"alloc_time\":%" PRIu64 ",\"free_time\":%" PRIu64
		    ",\"free_ip\":\"%" PRIxPTR "\",\"allocator\":\"%s\",\"process\":",
		    o->first ? "" : ",", ob->alloc_ip, (int)ob->tid, ob->va, ob->size, ob->alloc_ns,
		    ob->free_ns, ob->free_ip, allocator_name(ob->allocator));
		json_string(o, rt_name(ob->name_id));
		put(o, ",\"cache\":\"%s\",\"accesses\":[", cache);
	} else {
		put_hex(o, ob->alloc_ip);
		put_ch(o, ',');
		put_dec(o, (uint64_t)ob->tid);
		put_ch(o, ',');
		put_hex(o, ob->va);
		put_ch(o, ',');
		put_dec(o, ob->size);
		put_ch(o, ',');
		put_dec(o, ob->alloc_ns);
		put_ch(o, ',');
		put_dec(o, ob->free_ns);
		put_ch(o, ',');
		put_hex(o, ob->free_ip);
		put_ch(o, ',');
		put_str(o, allocator_name(ob->allocator));
		put_ch(o, ',');
		put_str(o, rt_name(ob->name_id));
		put_ch(o, ',');
		put_str(o, cache);
		put_ch(o, '\n');
	}
	o->first = false;
	for (struct rt_access *a = __atomic_load_n(&ob->accesses, __ATOMIC_ACQUIRE); a;
	     a = a->next) {
		uint64_t w = RT_LOAD(&a->writes), r = RT_LOAD(&a->reads);

		if (!w && !r)
			continue;
		if (o->json)
			put(o,
			    "%s{\"ip\":\"%" PRIxPTR "\",\"writes\":%" PRIu64 ",\"reads\":%" PRIu64
			    ",\"tid\":%d}",
			    first ? "" : ",", a->ip, w, r, (int)a->tid);
		else
			put_access(o, a->ip, w, r, a->tid);
		first = false;
	}
	if (o->json)
		put(o, "]}");
	/* Memorizer moves a dead object it printed to the printed list: later
	 * dumps skip it, clear_printed_list frees it. */
	if (ob->state == RT_OBJ_DEAD)
		RT_STORE(&ob->state, RT_OBJ_PRINTED);
}

static int copy_maps(const char *path)
{
	char buf[4096];
	int in, outfd, err = 0;
	ssize_t n;

	in = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	outfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0) {
		err = -errno;
		close(in);
		return err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(outfd, buf, (size_t)n) != n) {
			err = -EIO;
			break;
		}
	close(in);
	if (close(outfd) < 0 && !err)
		err = -errno;
	return err;
}

static struct out out; /* 64 KiB: not on a thread's stack */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Taken first of all the runtime's locks before a fork: a dump holds it
 * while it takes the object lists' locks. */
void rt_capmap_atfork(int phase)
{
	if (phase == RT_FORK_PREPARE)
		pthread_mutex_lock(&lock);
	else if (phase == RT_FORK_PARENT)
		pthread_mutex_unlock(&lock);
	else
		pthread_mutex_init(&lock, NULL);
}

int rt_capmap_write(const char *path, bool json, long *nobjs)
{
	char tmp[PATH_MAX + 16], maps[PATH_MAX + 16];
	int err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) ||
	    (size_t)snprintf(maps, sizeof(maps), "%s.maps", path) >= sizeof(maps))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&lock);
	out.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out.fd < 0) {
		err = -errno;
		goto unlock;
	}
	out.err = 0;
	out.len = 0;
	out.json = json;
	out.first = true;
	out.nobjs = 0;
	if (json) {
		put(&out, "{\"format\":\"usm-capmap\",\"version\":1,\"pid\":%d,\"objects\":[",
		    (int)rt.pid);
	}
	rt_objs_walk(write_obj, &out);
	if (json)
		put(&out, "\n]}\n");
	flush(&out);
	if (close(out.fd) < 0 && !out.err)
		out.err = errno;
	if (out.err) {
		err = -out.err;
		unlink(tmp);
		goto unlock;
	}
	err = copy_maps(maps);
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (nobjs)
		*nobjs = out.nobjs;
unlock:
	pthread_mutex_unlock(&lock);
	return err;
}
