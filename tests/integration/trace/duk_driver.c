/* A driver for Duktape, the embeddable JavaScript engine Debian ships as
 * one C file (duktape-dev: /usr/share/duktape/duktape.c): the real
 * third-party program of trace_real.sh and bench/trace.sh. It runs the
 * script argv[1] with the global N = argv[2] (default 1) and prints the
 * value of its last expression. */
#include <stdio.h>
#include <stdlib.h>

#include "duktape.h"

int main(int argc, char **argv)
{
	duk_context *ctx;
	FILE *f;
	char *src;
	long len;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SCRIPT [N]\n", argv[0]);
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		perror(argv[1]);
		return 1;
	}
	src = malloc((size_t)len + 1);
	if (!src || fread(src, 1, (size_t)len, f) != (size_t)len) {
		perror(argv[1]);
		return 1;
	}
	src[len] = 0;
	fclose(f);

	ctx = duk_create_heap_default();
	if (!ctx)
		return 1;
	duk_push_int(ctx, argc > 2 ? atoi(argv[2]) : 1);
	duk_put_global_string(ctx, "N");
	if (duk_peval_string(ctx, src) != 0) {
		fprintf(stderr, "error: %s\n", duk_safe_to_string(ctx, -1));
		rc = 1;
	} else {
		printf("%s\n", duk_safe_to_string(ctx, -1));
	}
	duk_destroy_heap(ctx);
	free(src);
	return rc;
}
