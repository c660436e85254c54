/*
 * t_img.h - helpers for the pixel-layer unit tests (test_pixels.c,
 * test_composite.c): a shared-corpus image reader and the mean absolute
 * difference of two RGB images.
 */
#ifndef TS_T_IMG_H
#define TS_T_IMG_H

#include <stdint.h>
#include <stdlib.h>

#include "tests/unit/t.h"
#include "compose/compose.h"

/* ../shared/data/images/REL, or NULL when the corpus is absent */
static inline uint8_t *t_shared_img(const char *rel, size_t *len)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/data/images/%s", t_shared(), rel);
	return t_slurp(p, len);
}

#define T_NEED_SHARED(buf) do { if (!(buf)) SKIP("../shared/data/images not found"); } while (0)

/* mean absolute difference per channel; 1e9 when the sizes differ */
static inline double t_mean_abs_diff(const struct ts_image *a, const struct ts_image *b)
{
	double s = 0;
	size_t n = (size_t)a->width * a->height * 3;
	if (a->width != b->width || a->height != b->height)
		return 1e9;
	for (size_t i = 0; i < n; i++)
		s += abs((int)a->pixels[i] - (int)b->pixels[i]);
	return s / (double)n;
}

#endif
