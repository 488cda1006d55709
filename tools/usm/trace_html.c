/* usm trace report --html: the page. Its data is the report's rows (the
 * same keys as 'usm trace report --json' where they mean the same) as one
 * inline JSON blob; a small inline script draws sortable tables from it,
 * the verdict filter and each site's objects and access sites. No external
 * resource: the page's Content-Security-Policy forbids any. */
#include "trace_html.h"
#include "table.h"
#include "trace_common.h"

#include <errno.h>
#include <stdlib.h>

/* The page around the data. The script is plain ES2017: it builds the DOM
 * from the JSON, so the HTML here carries no data to escape. */
static const char page_head[] =
        "<!DOCTYPE html>\n"
        "<html lang=\"en\">\n"
        "<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src "
        "'unsafe-inline'; style-src 'unsafe-inline'\">\n"
        "<title>usm trace report</title>\n"
        "<style>\n"
        "body { font: 13px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }\n"
        "h1 { font-size: 1.4em; margin: 0 0 .3em; }\n"
        "h4 { margin: .8em 0 .2em; }\n"
        ".note { color: #555; max-width: 70em; }\n"
        "table { border-collapse: collapse; margin: .3em 0; }\n"
        "th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: "
        "nowrap; }\n"
        "th { background: #eef; cursor: pointer; position: sticky; top: 0; user-select: none; }\n"
        "th.sorted::after { content: attr(data-dir); }\n"
        "td.where, td.allocator, td.verdicts, th.where { text-align: left; }\n"
        "td.where { white-space: normal; font-family: monospace; min-width: 24em; max-width: 45em; "
        "overflow-wrap: anywhere; }\n"
        "tr.site { cursor: pointer; }\n"
        "tr.site:hover { background: #f6f6ff; }\n"
        "tr.open { background: #eef6ee; }\n"
        "tr.detail > td { text-align: left; background: #fafafa; padding: .5em 1em 1em 2em; }\n"
        ".bar { display: inline-block; height: .8em; background: #79c; vertical-align: middle; }\n"
        "#controls { margin: .8em 0; }\n"
        "#controls > * { margin-right: 1em; }\n"
        "</style>\n"
        "</head>\n"
        "<body>\n"
        "<h1>usm trace report: <span id=\"file\"></span></h1>\n"
        "<p id=\"summary\"></p>\n"
        "<p id=\"aggregated\" class=\"note\"></p>\n"
        "<noscript><p>This page draws its tables with inline JavaScript (no network): enable it to "
        "see them.</p></noscript>\n"
        "<div id=\"controls\">\n"
        "<label>Verdict: <select id=\"verdict\"><option value=\"\">all "
        "sites</option></select></label>\n"
        "<label>Site: <input id=\"find\" type=\"search\" placeholder=\"function or "
        "file\"></label>\n"
        "<span id=\"shown\"></span><span id=\"why\" class=\"note\"></span>\n"
        "</div>\n"
        "<p class=\"note\">Click a column header to sort, a site to see its objects and the access "
        "sites that touched them.</p>\n"
        "<table id=\"sites\"></table>\n"
        "<script type=\"application/json\" id=\"usm-data\">\n";

static const char page_tail[] =
        "</script>\n"
        "<script>\n"
        "'use strict';\n"
        "const D = JSON.parse(document.getElementById('usm-data').textContent);\n"
        "const VERDICTS = [\n"
        "  ['never_read', 'never read', 'no load hit it'],\n"
        "  ['never_written', 'never written', 'no store hit it'],\n"
        "  ['write_only', 'written, never read', 'stores but no load: stands for written but never "
        "read after its last write, since a CAPMAP counts accesses without their order'],\n"
        "  ['short_lived', 'short-lived', 'freed less than ' + ns(D.short_lived_ns) + ' after it "
        "was allocated'],\n"
        "  ['read_mostly', 'read-mostly', 'at least ' + D.read_mostly + ' loads per store'],\n"
        "];\n"
        "const BUCKETS = ['< 1us', '< 10us', '< 100us', '< 1ms', '< 10ms', '< 100ms', '< 1s', '>= "
        "1s'];\n"
        "\n"
        "function num(v) { return v === null || v === undefined ? '-' : v.toLocaleString('en-US'); "
        "}\n"
        "function ns(v) {\n"
        "  if (v === null || v === undefined) return '-';\n"
        "  if (v < 1e3) return v + 'ns';\n"
        "  if (v < 1e6) return (v / 1e3).toFixed(2) + 'us';\n"
        "  if (v < 1e9) return (v / 1e6).toFixed(2) + 'ms';\n"
        "  return (v / 1e9).toFixed(2) + 's';\n"
        "}\n"
        "function el(tag, cls, text) {\n"
        "  const e = document.createElement(tag);\n"
        "  if (cls) e.className = cls;\n"
        "  if (text !== undefined) e.textContent = text;\n"
        "  return e;\n"
        "}\n"
        "function cmp(a, b) {\n"
        "  if (a === b) return 0;\n"
        "  if (a === null || a === undefined) return -1;\n"
        "  if (b === null || b === undefined) return 1;\n"
        "  if (typeof a === 'number' && typeof b === 'number') return a - b;\n"
        "  return String(a).localeCompare(String(b));\n"
        "}\n"
        "\n"
        "// A table sorted by a click on its header: cols are {k: key, h: header,\n"
        "// f: format, s: true for text (sorts ascending first)}.\n"
        "function sortable(cols, rows, state, onrow) {\n"
        "  const t = el('table'), head = el('tr'), body = el('tbody');\n"
        "  t.appendChild(el('thead')).appendChild(head);\n"
        "  t.appendChild(body);\n"
        "  for (const c of cols) {\n"
        "    const th = head.appendChild(el('th', c.k, c.h));\n"
        "    th.title = 'sort by ' + c.h;\n"
        "    th.onclick = () => {\n"
        "      if (state.k === c.k) state.desc = !state.desc;\n"
        "      else { state.k = c.k; state.desc = !c.s; }\n"
        "      draw();\n"
        "    };\n"
        "  }\n"
        "  function draw() {\n"
        "    const sorted = rows.slice().sort((a, b) => cmp(a[state.k], b[state.k]) * (state.desc "
        "? -1 : 1));\n"
        "    body.replaceChildren();\n"
        "    for (const r of sorted) {\n"
        "      const tr = body.appendChild(el('tr'));\n"
        "      for (const c of cols) tr.appendChild(el('td', c.k, c.f ? c.f(r[c.k], r) : "
        "r[c.k]));\n"
        "      if (onrow) onrow(tr, r, body);\n"
        "    }\n"
        "    for (let i = 0; i < cols.length; i++) {\n"
        "      const th = head.children[i];\n"
        "      th.classList.toggle('sorted', cols[i].k === state.k);\n"
        "      th.dataset.dir = state.desc ? ' ▾' : ' ▴';\n"
        "    }\n"
        "  }\n"
        "  t.draw = draw;\n"
        "  draw();\n"
        "  return t;\n"
        "}\n"
        "\n"
        "function verdictsOf(r) {\n"
        "  return VERDICTS.filter(v => r.verdicts.includes(v[0])).map(v => v[1]).join(', ');\n"
        "}\n"
        "\n"
        "function details(r) {\n"
        "  const d = el('div');\n"
        "  d.appendChild(el('p', null, num(r.objects) + ' objects of ' + num(r.min_size) + ' to ' "
        "+\n"
        "    num(r.max_size) + ' bytes; ' + num(r.live) + ' still live; freed ones lived ' +\n"
        "    ns(r.min_lifetime_ns) + ' to ' + ns(r.max_lifetime_ns) + ', ' + "
        "ns(r.mean_lifetime_ns) +\n"
        "    ' on average.'));\n"
        "  d.appendChild(el('h4', null, 'Lifetimes of the freed objects'));\n"
        "  const most = Math.max(1, ...r.lifetimes);\n"
        "  const lt = d.appendChild(el('table', 'lifetimes'));\n"
        "  r.lifetimes.forEach((n, i) => {\n"
        "    const tr = lt.appendChild(el('tr'));\n"
        "    tr.appendChild(el('td', null, BUCKETS[i]));\n"
        "    tr.appendChild(el('td', null, num(n)));\n"
        "    const bar = tr.appendChild(el('td', 'where')).appendChild(el('span', 'bar'));\n"
        "    bar.style.width = (200 * n / most) + 'px';\n"
        "  });\n"
        "  d.appendChild(el('h4', null, 'Objects: the ' + num(r.samples.length) + ' largest (then "
        "longest-lived) of ' +\n"
        "    num(r.objects) + (r.samples.length < r.objects ? '; the others are only in the sums' "
        ": '')));\n"
        "  d.appendChild(sortable([\n"
        "    {k: 'va', h: 'address', s: true}, {k: 'size', h: 'bytes', f: num},\n"
        "    {k: 'lifetime_ns', h: 'lifetime', f: v => v === null ? 'live' : ns(v)},\n"
        "    {k: 'reads', h: 'reads', f: num}, {k: 'writes', h: 'writes', f: num},\n"
        "    {k: 'pid', h: 'thread'}, {k: 'verdicts', h: 'verdicts', s: true, f: (v, o) => "
        "verdictsOf(o)},\n"
        "  ], r.samples, {k: 'size', desc: true})).classList.add('samples');\n"
        "  d.appendChild(el('h4', null, 'Access sites that touched them: ' +\n"
        "    (r.touches.length < r.touches_total ? 'the ' + r.touches.length + ' busiest of ' : "
        "'') +\n"
        "    num(r.touches_total)));\n"
        "  d.appendChild(sortable([\n"
        "    {k: 'where', h: 'access site', s: true}, {k: 'reads', h: 'reads', f: num},\n"
        "    {k: 'writes', h: 'writes', f: num}, {k: 'objects', h: 'objects touched', f: num},\n"
        "  ], r.touches, {k: 'reads', desc: true})).classList.add('touches');\n"
        "  return d;\n"
        "}\n"
        "\n"
        "const open = new Set();\n"
        "const state = {k: 'bytes', desc: true};\n"
        "let verdict = '', find = '';\n"
        "const cols = [\n"
        "  {k: 'where', h: 'allocation site', s: true}, {k: 'allocator', h: 'allocator', s: "
        "true},\n"
        "  {k: 'objects', h: 'objects', f: num}, {k: 'live', h: 'live', f: num},\n"
        "  {k: 'bytes', h: 'bytes', f: num}, {k: 'reads', h: 'reads', f: num},\n"
        "  {k: 'writes', h: 'writes', f: num}, {k: 'mean_lifetime_ns', h: 'mean lifetime', f: "
        "ns},\n"
        "].concat(VERDICTS.map(v => ({k: v[0], h: v[1], f: num})));\n"
        "\n"
        "function showDetail(tr, r) {\n"
        "  tr.classList.add('open');\n"
        "  const d = el('tr', 'detail');\n"
        "  const td = d.appendChild(el('td'));\n"
        "  td.colSpan = cols.length;\n"
        "  td.appendChild(details(r));\n"
        "  tr.after(d);\n"
        "}\n"
        "\n"
        "function onSite(tr, r) {\n"
        "  tr.classList.add('site');\n"
        "  tr.dataset.ip = r.alloc_ip;\n"
        "  if (open.has(r.alloc_ip)) showDetail(tr, r);\n"
        "  tr.onclick = () => {\n"
        "    if (open.has(r.alloc_ip)) { open.delete(r.alloc_ip); tr.classList.remove('open'); "
        "tr.nextSibling.remove(); }\n"
        "    else { open.add(r.alloc_ip); showDetail(tr, r); }\n"
        "  };\n"
        "}\n"
        "\n"
        "function render() {\n"
        "  const rows = D.sites.filter(r => (!verdict || r[verdict] > 0) &&\n"
        "    (!find || r.where.toLowerCase().includes(find)));\n"
        "  const t = sortable(cols, rows, state, onSite);\n"
        "  t.id = 'sites';\n"
        "  document.getElementById('sites').replaceWith(t);\n"
        "  document.getElementById('shown').textContent = 'showing ' + rows.length + ' of ' + "
        "D.sites.length + ' sites';\n"
        "}\n"
        "\n"
        "function main() {\n"
        "  document.title = 'usm trace report: ' + D.file;\n"
        "  document.getElementById('file').textContent = D.file;\n"
        "  document.getElementById('summary').textContent = num(D.objects) + ' objects (' + "
        "num(D.live) +\n"
        "    ' live), ' + num(D.bytes) + ' bytes, ' + num(D.reads) + ' reads, ' + num(D.writes) +\n"
        "    ' writes, in ' + num(D.nsites) + ' allocation sites.';\n"
        "  const hk = Object.keys(D.header);\n"
        "  if (hk.length)\n"
        "    document.getElementById('summary').textContent += ' Recorder: ' +\n"
        "      hk.map(k => k + '=' + num(D.header[k])).join(', ') + '.';\n"
        "  document.getElementById('aggregated').textContent = 'Aggregated while reading: all ' +\n"
        "    num(D.objects) + ' objects (' + num(D.access_lines) + ' access lines) are summed per "
        "' +\n"
        "    'allocation site; per site the page keeps at most ' + num(D.samples_per_site) +\n"
        "    ' objects, the largest then longest-lived (' + num(D.sampled) + ' kept, ' +\n"
        "    num(D.objects - D.sampled) + ' only counted), and the ' + num(D.touches_per_site) +\n"
        "    ' busiest access sites (' + num(D.touches_shown) + ' of ' + num(D.touches_total) + ' "
        "shown).';\n"
        "  const sel = document.getElementById('verdict');\n"
        "  for (const v of VERDICTS) {\n"
        "    const o = sel.appendChild(el('option', null, v[1] + ' (' + num(D.verdicts[v[0]]) + ' "
        "objects)'));\n"
        "    o.value = v[0];\n"
        "    o.title = v[2];\n"
        "  }\n"
        "  sel.onchange = () => {\n"
        "    verdict = sel.value;\n"
        "    document.getElementById('why').textContent = verdict ? VERDICTS.find(v => v[0] === "
        "verdict)[2] : '';\n"
        "    if (verdict) { state.k = verdict; state.desc = true; }\n"
        "    render();\n"
        "  };\n"
        "  document.getElementById('find').oninput = e => { find = e.target.value.toLowerCase(); "
        "render(); };\n"
        "  // The address can choose a view: #all (every site open), #verdict=NAME,\n"
        "  // #sort=KEY, joined by '&'.\n"
        "  for (const part of location.hash.slice(1).split('&')) {\n"
        "    const [k, v] = part.split('=');\n"
        "    if (k === 'all') for (const r of D.sites) open.add(r.alloc_ip);\n"
        "    if (k === 'sort' && cols.some(c => c.k === v)) { state.k = v; state.desc = true; }\n"
        "    if (k === 'verdict' && VERDICTS.some(x => x[0] === v)) { sel.value = v; "
        "sel.onchange(); return; }\n"
        "  }\n"
        "  render();\n"
        "}\n"
        "main();\n"
        "</script>\n"
        "</body>\n"
        "</html>\n";

enum {
	S_ALLOC_IP,
	S_ALLOCATOR,
	S_WHERE,
	S_FUNCTION,
	S_FILE,
	S_LINE,
	S_OBJECTS,
	S_LIVE,
	S_BYTES,
	S_READS,
	S_WRITES,
	S_MEAN_LIFE,
	S_MIN_LIFE,
	S_MAX_LIFE,
	S_MIN_SIZE,
	S_MAX_SIZE,
	S_LIFETIMES,
	S_VERDICTS,
	S_SAMPLES = S_VERDICTS + USM_CAPMAP_NVERDICTS,
	S_TOUCHES_TOTAL,
	S_TOUCHES,
	S_NCOLS
};

static struct table_col site_cols[S_NCOLS] = {
        [S_ALLOC_IP] = {.key = "alloc_ip", .type = TABLE_ADDR},
        [S_ALLOCATOR] = {.key = "allocator", .type = TABLE_STR},
        [S_WHERE] = {.key = "where", .type = TABLE_STR},
        [S_FUNCTION] = {.key = "function", .type = TABLE_STR},
        [S_FILE] = {.key = "file", .type = TABLE_STR},
        [S_LINE] = {.key = "line", .type = TABLE_INT},
        [S_OBJECTS] = {.key = "objects", .type = TABLE_UINT},
        [S_LIVE] = {.key = "live", .type = TABLE_UINT},
        [S_BYTES] = {.key = "bytes", .type = TABLE_UINT},
        [S_READS] = {.key = "reads", .type = TABLE_UINT},
        [S_WRITES] = {.key = "writes", .type = TABLE_UINT},
        [S_MEAN_LIFE] = {.key = "mean_lifetime_ns", .type = TABLE_NS},
        [S_MIN_LIFE] = {.key = "min_lifetime_ns", .type = TABLE_NS},
        [S_MAX_LIFE] = {.key = "max_lifetime_ns", .type = TABLE_NS},
        [S_MIN_SIZE] = {.key = "min_size", .type = TABLE_UINT},
        [S_MAX_SIZE] = {.key = "max_size", .type = TABLE_UINT},
        [S_LIFETIMES] = {.key = "lifetimes", .type = TABLE_JSON},
        /* S_VERDICTS ...: one column per verdict, named at run time */
        [S_SAMPLES] = {.key = "samples", .type = TABLE_JSON},
        [S_TOUCHES_TOTAL] = {.key = "touches_total", .type = TABLE_UINT},
        [S_TOUCHES] = {.key = "touches", .type = TABLE_JSON},
};

static const struct table_col sample_cols[] = {
        {.key = "va", .type = TABLE_ADDR},          {.key = "size", .type = TABLE_UINT},
        {.key = "alloc_time_ns", .type = TABLE_NS}, {.key = "lifetime_ns", .type = TABLE_NS},
        {.key = "reads", .type = TABLE_UINT},       {.key = "writes", .type = TABLE_UINT},
        {.key = "pid", .type = TABLE_INT},          {.key = "verdicts", .type = TABLE_STR_LIST},
};

static const struct table_col touch_cols[] = {
        {.key = "ip", .type = TABLE_ADDR},      {.key = "where", .type = TABLE_STR},
        {.key = "function", .type = TABLE_STR}, {.key = "file", .type = TABLE_STR},
        {.key = "line", .type = TABLE_INT},     {.key = "reads", .type = TABLE_UINT},
        {.key = "writes", .type = TABLE_UINT},  {.key = "objects", .type = TABLE_UINT},
};

static json_object *sample_rows(const struct usm_capmap_agg_site *s)
{
	struct table t;
	json_object *rows;

	table_init(&t, TABLE_COLS(sample_cols));
	for (size_t i = 0; i < s->nsamples; i++) {
		const struct usm_capmap_sample *o = &s->samples[i];
		const char *names[USM_CAPMAP_NVERDICTS];
		size_t n = 0;

		for (unsigned v = 0; v < USM_CAPMAP_NVERDICTS; v++)
			if (o->verdicts & (1u << v))
				names[n++] = usm_capmap_verdict_name(v);
		table_row(&t);
		table_add_uint(&t, o->va);
		table_add_uint(&t, o->size);
		table_add_uint(&t, o->alloc_time);
		if (o->free_time)
			table_add_uint(&t, o->free_time - o->alloc_time);
		else
			table_add_null(&t);
		table_add_uint(&t, o->reads);
		table_add_uint(&t, o->writes);
		table_add_int(&t, o->pid);
		table_add_strs(&t, names, n);
	}
	rows = t.failed ? NULL : table_json_rows(&t);
	table_free(&t);
	return rows;
}

static json_object *touch_rows(const struct usm_capmap_agg_site *s, struct usm_symbolizer *symz,
                               size_t max)
{
	struct trace_place p;
	struct table t;
	json_object *rows;

	table_init(&t, TABLE_COLS(touch_cols));
	for (size_t i = 0; i < s->ntouches && i < max; i++) {
		const struct usm_capmap_touch *a = &s->touches[i];

		trace_place_ip(symz, a->ip, &p);
		table_row(&t);
		table_add_uint(&t, a->ip);
		table_add_str(&t, p.where);
		table_add_str(&t, p.sym.function);
		table_add_str(&t, p.sym.file);
		table_add_int(&t, p.sym.line);
		table_add_uint(&t, a->reads);
		table_add_uint(&t, a->writes);
		table_add_uint(&t, a->objects);
	}
	rows = t.failed ? NULL : table_json_rows(&t);
	table_free(&t);
	return rows;
}

static json_object *u64_array(const uint64_t *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_uint64(v[i]));
	return a;
}

static void add_site(struct table *t, const struct usm_capmap_agg_site *s,
                     struct usm_symbolizer *symz, size_t touches)
{
	struct trace_place p;

	trace_place_site(symz, s->sum.alloc_ip, s->sum.allocator, &p);
	table_row(t);
	table_add_uint(t, s->sum.alloc_ip);
	table_add_str(t, s->sum.mixed ? "mixed" : s->sum.allocator);
	table_add_str(t, p.where);
	table_add_str(t, p.sym.function);
	table_add_str(t, p.sym.file);
	table_add_int(t, p.sym.line);
	table_add_uint(t, s->sum.objects);
	table_add_uint(t, s->sum.live);
	table_add_uint(t, s->sum.bytes);
	table_add_uint(t, s->sum.reads);
	table_add_uint(t, s->sum.writes);
	if (s->sum.freed) {
		table_add_uint(t, s->sum.lifetime_sum / s->sum.freed);
		table_add_uint(t, s->min_lifetime);
		table_add_uint(t, s->max_lifetime);
	} else {
		table_add_null(t);
		table_add_null(t);
		table_add_null(t);
	}
	table_add_uint(t, s->min_size);
	table_add_uint(t, s->max_size);
	table_add_json(t, u64_array(s->lifetimes, USM_CAPMAP_LIFETIME_BUCKETS));
	for (unsigned v = 0; v < USM_CAPMAP_NVERDICTS; v++)
		table_add_uint(t, s->verdicts[v]);
	table_add_json(t, sample_rows(s));
	table_add_uint(t, s->ntouches);
	table_add_json(t, touch_rows(s, symz, touches));
}

static json_object *page_data(const char *path, const struct usm_capmap_agg *a,
                              struct usm_symbolizer *symz, size_t touches)
{
	json_object *doc = json_object_new_object(), *verdicts = json_object_new_object();
	json_object *header = json_object_new_object();
	uint64_t total = 0, shown = 0;
	struct table t;

	if (!doc || !verdicts || !header) {
		json_object_put(header);
		json_object_put(doc);
		json_object_put(verdicts);
		return NULL;
	}
	for (unsigned v = 0; v < USM_CAPMAP_NVERDICTS; v++) {
		site_cols[S_VERDICTS + v] =
		        (struct table_col){.key = usm_capmap_verdict_name(v), .type = TABLE_UINT};
		json_object_object_add(verdicts, usm_capmap_verdict_name(v),
		                       json_object_new_uint64(a->verdicts[v]));
	}
	for (size_t i = 0; i < a->header.nstats; i++)
		json_object_object_add(header, a->header.stats[i].key,
		                       json_object_new_uint64(a->header.stats[i].value));
	table_init(&t, TABLE_COLS(site_cols));
	for (size_t i = 0; i < a->nsites; i++) {
		add_site(&t, &a->sites[i], symz, touches);
		total += a->sites[i].ntouches;
		shown += a->sites[i].ntouches < touches ? a->sites[i].ntouches : touches;
	}
	json_object_object_add(doc, "file", json_object_new_string(path));
	json_object_object_add(doc, "header", header);
	json_object_object_add(doc, "objects", json_object_new_uint64(a->objects));
	json_object_object_add(doc, "live", json_object_new_uint64(a->live));
	json_object_object_add(doc, "bytes", json_object_new_uint64(a->bytes));
	json_object_object_add(doc, "reads", json_object_new_uint64(a->reads));
	json_object_object_add(doc, "writes", json_object_new_uint64(a->writes));
	json_object_object_add(doc, "access_lines", json_object_new_uint64(a->access_lines));
	json_object_object_add(doc, "nsites", json_object_new_uint64(a->nsites));
	json_object_object_add(doc, "sampled", json_object_new_uint64(a->sampled));
	json_object_object_add(doc, "samples_per_site", json_object_new_uint64(a->opts.samples));
	json_object_object_add(doc, "touches_per_site", json_object_new_uint64(touches));
	json_object_object_add(doc, "touches_total", json_object_new_uint64(total));
	json_object_object_add(doc, "touches_shown", json_object_new_uint64(shown));
	json_object_object_add(doc, "short_lived_ns",
	                       json_object_new_uint64(a->opts.short_lived_ns));
	json_object_object_add(doc, "read_mostly", json_object_new_uint64(a->opts.read_mostly));
	json_object_object_add(doc, "end_time_ns", json_object_new_uint64(a->end_time));
	json_object_object_add(doc, "verdicts", verdicts);
	json_object_object_add(doc, "sites", t.failed ? NULL : table_json_rows(&t));
	if (t.failed) {
		json_object_put(doc);
		doc = NULL;
	}
	table_free(&t);
	return doc;
}

/* The JSON inside <script>: json-c already writes '/' as "\/", so no
 * "</script>" can appear; '<' (only ever inside strings) becomes \u003c
 * too, so no "<!--" can either. */
static void put_json(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("\\u003c", out);
		else
			putc(*s, out);
	}
}

int trace_html_write(FILE *out, const char *path, const struct usm_capmap_agg *agg,
                     struct usm_symbolizer *symz, size_t touches)
{
	json_object *doc = page_data(path, agg, symz, touches);
	const char *text;

	if (!doc)
		return -ENOMEM;
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	if (!text) {
		json_object_put(doc);
		return -ENOMEM;
	}
	fputs(page_head, out);
	put_json(out, text);
	fputs("\n", out);
	fputs(page_tail, out);
	json_object_put(doc);
	return ferror(out) ? -EIO : 0;
}
