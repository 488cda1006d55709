/* A second real program for bench/trace.sh, the opposite of Duktape: stb's
 * PNG encoder (deflate) and decoder (inflate, filters) and its resizer
 * (Debian's libstb-dev, single-file libraries) over a generated image.
 * Few allocations, big buffers, tight loops. Prints sizes and checksums.
 *
 *   stb_png [SIDE] [ROUNDS]   (default 512 1) */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* A gradient with some noise: compressible, but not trivially. */
static unsigned char *make_image(int side, uint32_t *seed)
{
	unsigned char *img = malloc((size_t)side * side * 3);

	if (!img)
		return NULL;
	for (int y = 0; y < side; y++)
		for (int x = 0; x < side; x++) {
			unsigned char *px = img + ((size_t)y * side + x) * 3;

			*seed = *seed * 1103515245u + 12345u;
			px[0] = (unsigned char)(x * 255 / side);
			px[1] = (unsigned char)(y * 255 / side);
			px[2] = (unsigned char)((x ^ y) + (*seed >> 29));
		}
	return img;
}

int main(int argc, char **argv)
{
	int side = argc > 1 ? atoi(argv[1]) : 512, rounds = argc > 2 ? atoi(argv[2]) : 1;
	int small = side / 3;
	uint32_t seed = 1;

	if (side < 3 || rounds < 1) {
		fprintf(stderr, "usage: %s [SIDE >= 3] [ROUNDS >= 1]\n", argv[0]);
		return 2;
	}
	for (int r = 0; r < rounds; r++) {
		unsigned char *img = make_image(side, &seed), *png, *back, *resized;
		int len, w, h, n;

		if (!img)
			return 1;
		png = stbi_write_png_to_mem(img, side * 3, side, side, 3, &len);
		back = png ? stbi_load_from_memory(png, len, &w, &h, &n, 3) : NULL;
		resized = malloc((size_t)small * small * 3);
		if (!back || !resized ||
		    !stbir_resize_uint8(back, w, h, 0, resized, small, small, 0, 3)) {
			fprintf(stderr, "stb_png: round %d failed\n", r);
			return 1;
		}
		printf("%d %08x %08x %08x\n", len, fnv1a(png, (size_t)len),
		       fnv1a(back, (size_t)w * h * 3), fnv1a(resized, (size_t)small * small * 3));
		free(resized);
		stbi_image_free(back);
		free(png);
		free(img);
	}
	return 0;
}
