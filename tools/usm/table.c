/* The shared table printer (table.h): rows of typed cells, printed as text
 * or JSON from the one declaration of the columns. */
#include "table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <usm/size.h>

#define CELL_MAX 512 /* the longest cell text: a symbolized site */

void table_init(struct table *t, const struct table_col *cols, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
}

void table_text_order(struct table *t, const size_t *order, size_t n)
{
	t->text_order = order;
	t->ntext = n;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void table_free(struct table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			struct table_cell *x = &t->cells[r * t->ncols + c];

			if (t->cols[c].type == TABLE_STR)
				free(x->s);
			else if (t->cols[c].type == TABLE_INT_LIST)
				free(x->list);
			else if (t->cols[c].type == TABLE_STR_LIST)
				free_strs(x->strs, x->n);
			else if (t->cols[c].type == TABLE_JSON)
				json_object_put(x->json);
		}
	}
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = t->filled = 0;
}

void table_row(struct table *t)
{
	if (t->failed)
		return;
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct table_cell *grown = realloc(t->cells, ncap * t->ncols * sizeof(*grown));

		if (!grown) {
			t->failed = true;
			return;
		}
		t->cells = grown;
		t->cap = ncap;
	}
	memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(*t->cells));
	t->nrows++;
	t->filled = 0;
}

/* The next cell of the current row, or NULL (out of memory, or more cells
 * than columns: a command's mistake, shown by a failed print). */
static struct table_cell *next(struct table *t)
{
	if (t->failed || !t->nrows || t->filled == t->ncols) {
		t->failed = true;
		return NULL;
	}
	return &t->cells[(t->nrows - 1) * t->ncols + t->filled++];
}

void table_add_str(struct table *t, const char *s)
{
	struct table_cell *x = next(t);

	if (x && s && !(x->s = strdup(s)))
		t->failed = true;
	if (x && !s)
		x->null = true;
}

void table_add_int(struct table *t, int64_t v)
{
	struct table_cell *x = next(t);

	if (x)
		x->i = v;
}

void table_add_uint(struct table *t, uint64_t v)
{
	struct table_cell *x = next(t);

	if (x)
		x->u = v;
}

void table_add_double(struct table *t, double v)
{
	struct table_cell *x = next(t);

	if (x)
		x->d = v;
}

void table_add_ints(struct table *t, const int *v, size_t n)
{
	struct table_cell *x = next(t);

	if (!x)
		return;
	x->list = malloc((n ? n : 1) * sizeof(*v));
	if (!x->list) {
		t->failed = true;
		return;
	}
	memcpy(x->list, v, n * sizeof(*v));
	x->n = n;
}

void table_add_strs(struct table *t, const char *const *v, size_t n)
{
	struct table_cell *x = next(t);

	if (!x)
		return;
	x->strs = calloc(n ? n : 1, sizeof(*x->strs));
	if (!x->strs) {
		t->failed = true;
		return;
	}
	for (; x->n < n; x->n++) {
		if (!(x->strs[x->n] = strdup(v[x->n] ? v[x->n] : ""))) {
			t->failed = true;
			return;
		}
	}
}

void table_add_json(struct table *t, json_object *v)
{
	struct table_cell *x = next(t);

	if (!x) {
		json_object_put(v);
		return;
	}
	x->json = v;
	x->null = !v;
}

void table_add_null(struct table *t)
{
	struct table_cell *x = next(t);

	if (x)
		x->null = true;
}

static bool is_zero(const struct table_col *col, const struct table_cell *x)
{
	switch (col->type) {
	case TABLE_STR:
		return !x->s[0];
	case TABLE_PCT:
	case TABLE_DOUBLE:
		return x->d == 0;
	case TABLE_INT_LIST:
	case TABLE_STR_LIST:
		return !x->n;
	case TABLE_JSON:
		return !x->json;
	default:
		return !x->u;
	}
}

static void list_text(const struct table_cell *x, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < x->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "; " : "", x->list[i]);
}

static void strs_text(const struct table_cell *x, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < x->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", x->strs[i]);
}

void table_cell_text(const struct table *t, size_t row, size_t col, char *buf, size_t len)
{
	const struct table_col *c = &t->cols[col];
	const struct table_cell *x = &t->cells[row * t->ncols + col];

	if (x->null) {
		snprintf(buf, len, "-");
		return;
	}
	if (c->zero && is_zero(c, x)) {
		snprintf(buf, len, "%s", c->zero);
		return;
	}
	switch (c->type) {
	case TABLE_STR:
		snprintf(buf, len, "%s", x->s);
		break;
	case TABLE_INT:
		snprintf(buf, len, "%" PRId64, x->i);
		break;
	case TABLE_UINT:
		snprintf(buf, len, "%" PRIu64, x->u);
		break;
	case TABLE_BOOL:
		snprintf(buf, len, "%s", x->u ? "yes" : "no");
		break;
	case TABLE_HEX:
		snprintf(buf, len, "0x%" PRIx64, x->u);
		break;
	case TABLE_ADDR:
		snprintf(buf, len, "%" PRIx64, x->u);
		break;
	case TABLE_SIZE:
		usm_format_size(x->u, buf, len);
		break;
	case TABLE_NS:
		usm_format_ns(x->u, c->decimals, buf, len);
		break;
	case TABLE_PCT:
		snprintf(buf, len, "%.*f%%", c->decimals, x->d);
		break;
	case TABLE_INT_LIST:
		list_text(x, buf, len);
		break;
	case TABLE_DOUBLE:
		snprintf(buf, len, "%.*f", c->decimals, x->d);
		break;
	case TABLE_STR_LIST:
		strs_text(x, buf, len);
		break;
	case TABLE_JSON:
		snprintf(buf, len, "%s",
			 json_object_to_json_string_ext(x->json, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		break;
	}
}

static size_t text_col(const struct table *t, size_t i)
{
	return t->text_order ? t->text_order[i] : i;
}

/* One line: the row's cells (the headers when row is SIZE_MAX). */
static void print_line(const struct table *t, FILE *out, size_t row)
{
	size_t n = t->text_order ? t->ntext : t->ncols;
	char cell[CELL_MAX], v[CELL_MAX];
	int width = 0;
	bool first = true, open = false;

	for (size_t i = 0; i < n; i++) {
		const struct table_col *c = &t->cols[text_col(t, i)];

		if (c->flags & TABLE_JSON_ONLY)
			continue;
		if (row == SIZE_MAX)
			snprintf(v, sizeof(v), "%s", c->head ? c->head : "");
		else
			table_cell_text(t, row, text_col(t, i), v, sizeof(v));
		if ((c->flags & TABLE_JOIN) && open) {
			if (row != SIZE_MAX) {
				size_t used = strlen(cell), add = strlen(v);

				if (used + 1 + add < sizeof(cell)) {
					cell[used] = '/';
					memcpy(cell + used + 1, v, add + 1);
				}
			}
			continue;
		}
		if (open) {
			fprintf(out, "%s%*s", first ? "" : " ", width, cell);
			first = false;
		}
		snprintf(cell, sizeof(cell), "%s", v);
		width = c->width;
		open = true;
	}
	if (open)
		fprintf(out, "%s%*s", first ? "" : " ", width, cell);
	fputc('\n', out);
}

int table_print_text(const struct table *t, FILE *out, bool header)
{
	if (t->failed)
		return -ENOMEM;
	if (header)
		print_line(t, out, SIZE_MAX);
	for (size_t r = 0; r < t->nrows; r++)
		print_line(t, out, r);
	return 0;
}

int table_print_row(const struct table *t, FILE *out, size_t row, bool header)
{
	if (t->failed)
		return -ENOMEM;
	if (row >= t->nrows)
		return -EINVAL;
	if (header)
		print_line(t, out, SIZE_MAX);
	print_line(t, out, row);
	return 0;
}

int table_print_fields(const struct table *t, FILE *out, int key_width, int value_width)
{
	char v[CELL_MAX];

	if (t->failed || !t->nrows)
		return -ENOMEM;
	for (size_t c = 0; c < t->ncols; c++) {
		if (t->cols[c].flags & TABLE_JSON_ONLY)
			continue;
		table_cell_text(t, 0, c, v, sizeof(v));
		fprintf(out, "%-*s %-*s %s\n", key_width, t->cols[c].key, value_width, v,
			t->cols[c].head);
	}
	return 0;
}

static json_object *json_cell(const struct table_col *c, const struct table_cell *x)
{
	char buf[24];
	json_object *arr;

	if (x->null)
		return NULL;
	switch (c->type) {
	case TABLE_STR:
		return json_object_new_string(x->s);
	case TABLE_INT:
		return json_object_new_int64(x->i);
	case TABLE_BOOL:
		return json_object_new_boolean(x->u != 0);
	case TABLE_ADDR:
		snprintf(buf, sizeof(buf), "%" PRIx64, x->u);
		return json_object_new_string(buf);
	case TABLE_PCT:
	case TABLE_DOUBLE:
		return json_object_new_double(x->d);
	case TABLE_INT_LIST:
		arr = json_object_new_array();
		for (size_t i = 0; arr && i < x->n; i++)
			json_object_array_add(arr, json_object_new_int(x->list[i]));
		return arr;
	case TABLE_STR_LIST:
		arr = json_object_new_array();
		for (size_t i = 0; arr && i < x->n; i++)
			json_object_array_add(arr, json_object_new_string(x->strs[i]));
		return arr;
	case TABLE_JSON:
		return json_object_get(x->json);
	default:
		return json_object_new_uint64(x->u);
	}
}

json_object *table_json_row(const struct table *t, size_t row)
{
	json_object *o;

	if (t->failed || row >= t->nrows || !(o = json_object_new_object()))
		return NULL;
	for (size_t c = 0; c < t->ncols; c++) {
		const struct table_cell *x = &t->cells[row * t->ncols + c];

		if (!(t->cols[c].flags & TABLE_TEXT_ONLY))
			json_object_object_add(o, t->cols[c].key, json_cell(&t->cols[c], x));
	}
	return o;
}

json_object *table_json_rows(const struct table *t)
{
	json_object *arr;

	if (t->failed || !(arr = json_object_new_array()))
		return NULL;
	for (size_t r = 0; r < t->nrows; r++)
		json_object_array_add(arr, table_json_row(t, r));
	return arr;
}

int table_json_print(json_object *doc, FILE *out, bool one_line)
{
	int flags = one_line ? JSON_C_TO_STRING_PLAIN
			     : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;

	if (!doc)
		return -ENOMEM;
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(doc, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return 0;
}
