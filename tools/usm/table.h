/* The one printer of rows every usm command uses: a command declares its
 * columns once (JSON key, header, type, width) and adds rows; the same rows
 * print as an aligned text table, as "key value meaning" lines, or as JSON
 * (json-c), so the text and --json cannot drift. */
#ifndef USM_TABLE_H
#define USM_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

enum table_type {
	TABLE_STR,      /* text as is; JSON string (null for table_add_null) */
	TABLE_INT,      /* int64_t */
	TABLE_UINT,     /* uint64_t */
	TABLE_BOOL,     /* text yes/no; JSON true/false */
	TABLE_HEX,      /* text 0x1f; JSON a number */
	TABLE_ADDR,     /* text 1f; JSON the string "1f" (addresses, IPs) */
	TABLE_SIZE,     /* bytes: text 64.0M (usm_format_size); JSON bytes */
	TABLE_NS,       /* nanoseconds: text 1.25ms (usm_format_ns); JSON ns */
	TABLE_PCT,      /* a double: text 12.5%; JSON the number */
	TABLE_INT_LIST, /* ints: text "1; 2"; JSON an array */
	TABLE_DOUBLE,   /* a double: text with .decimals digits; JSON the number */
	TABLE_STR_LIST, /* strings: text "a,b"; JSON an array of strings */
	TABLE_JSON,     /* a JSON value built by the command (nested rows): text its
			 * compact JSON; JSON the value itself */
};

enum table_flags {
	TABLE_TEXT_ONLY = 1, /* not in JSON */
	TABLE_JSON_ONLY = 2, /* not in the text */
	TABLE_JOIN = 4,      /* text: appended to the previous column's cell as "/value" */
};

struct table_col {
	const char *key;  /* JSON member name */
	const char *head; /* text header (the meaning, for table_print_fields) */
	enum table_type type;
	int width;        /* text: > 0 right-aligned, < 0 left-aligned, 0 as is */
	unsigned flags;   /* enum table_flags */
	const char *zero; /* text shown for 0 or "" instead (e.g. "none", "-") */
	int decimals;     /* TABLE_NS, TABLE_PCT, TABLE_DOUBLE */
};

struct table_cell {
	union {
		int64_t i;
		uint64_t u;
		double d;
		char *s;
		int *list;
		char **strs;
		json_object *json;
	};
	size_t n; /* TABLE_INT_LIST, TABLE_STR_LIST: how many */
	bool null;
};

struct table {
	const struct table_col *cols;
	size_t ncols;
	const size_t *text_order; /* column indices of the text; NULL: declaration order */
	size_t ntext;
	struct table_cell *cells; /* nrows * ncols */
	size_t nrows, cap, filled;
	bool failed; /* out of memory while adding: the print functions return -ENOMEM */
};

#define TABLE_COLS(cols) (cols), (sizeof(cols) / sizeof((cols)[0]))

void table_init(struct table *t, const struct table_col *cols, size_t ncols);
/* The text shows these columns in this order (JSON keeps the declared one). */
void table_text_order(struct table *t, const size_t *order, size_t n);
void table_free(struct table *t);

/* A new row, then one table_add_* per column in declared order. */
void table_row(struct table *t);
void table_add_str(struct table *t, const char *s); /* copied */
void table_add_int(struct table *t, int64_t v);
void table_add_uint(struct table *t, uint64_t v); /* also BOOL, HEX, ADDR, SIZE, NS */
void table_add_double(struct table *t, double v); /* PCT, DOUBLE */
void table_add_ints(struct table *t, const int *v, size_t n); /* copied */
void table_add_strs(struct table *t, const char *const *v, size_t n); /* copied */
/* Takes the reference to v (NULL: JSON null), e.g. table_json_rows of a
 * nested table: a row's list of sub-rows. */
void table_add_json(struct table *t, json_object *v);
void table_add_null(struct table *t); /* JSON null, text "-" */

/* One cell as the text shows it. */
void table_cell_text(const struct table *t, size_t row, size_t col, char *buf, size_t len);

/* The text columns, one line per row, with a header line when header. */
int table_print_text(const struct table *t, FILE *out, bool header);
/* One row as table_print_text prints it, after the header line when
 * header: for output that streams a row at a time. */
int table_print_row(const struct table *t, FILE *out, size_t row, bool header);
/* Row 0 as one line per column: key, value, then the column's head. */
int table_print_fields(const struct table *t, FILE *out, int key_width, int value_width);

/* A row as a JSON object, the rows as an array (NULL when out of memory). */
json_object *table_json_row(const struct table *t, size_t row);
json_object *table_json_rows(const struct table *t);
/* Prints a document as every usm --json does (pretty, or one line), then
 * frees it. */
int table_json_print(json_object *doc, FILE *out, bool one_line);

#endif
