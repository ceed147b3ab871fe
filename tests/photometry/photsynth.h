/*
 * tests/photometry/photsynth.h — helpers for the synthetic images of the
 * photometry tests: a tiny SIN projection about (ra0, dec0) at pixel
 * (cx, cy) (sin_s2p fits forced_image.sky2pix), and a seeded xorshift64
 * generator of uniform and Gaussian deviates.  Static functions and state:
 * each test includes this header once.  A test that wants its own sequence
 * defines PHOTSYNTH_SEED before the include.
 */
#ifndef CONTIMG_TEST_PHOTSYNTH_H
#define CONTIMG_TEST_PHOTSYNTH_H

#include <math.h>
#include <stdint.h>

#ifndef PHOTSYNTH_SEED
#define PHOTSYNTH_SEED 0x9E3779B97F4A7C15ull
#endif

typedef struct sinproj {
	double ra0, dec0, cx, cy, cell;
} sinproj;

/* Sky → pixel; -1 for the far hemisphere. */
static int sin_s2p(void *ctx, double ra, double dec, double *x, double *y)
{
	const sinproj *s = ctx;
	double l = cos(dec) * sin(ra - s->ra0);
	double m = sin(dec) * cos(s->dec0) - cos(dec) * sin(s->dec0) * cos(ra - s->ra0);
	double n = sin(dec) * sin(s->dec0) + cos(dec) * cos(s->dec0) * cos(ra - s->ra0);
	if (n <= 0)
		return -1;
	*x = s->cx - l / s->cell; /* east is to the left */
	*y = s->cy + m / s->cell;
	return 0;
}

/* Pixel → sky. */
static void sin_p2s(const sinproj *s, double x, double y, double *ra, double *dec)
{
	double l = -(x - s->cx) * s->cell, m = (y - s->cy) * s->cell;
	double n = sqrt(1 - l * l - m * m);
	*dec = asin(m * cos(s->dec0) + n * sin(s->dec0));
	*ra = s->ra0 + atan2(l, n * cos(s->dec0) - m * sin(s->dec0));
}

static uint64_t photsynth_rng = PHOTSYNTH_SEED;

/* Uniform in (0, 1). */
static double urand(void) { return test_urand(&photsynth_rng); }

/* Standard normal (Box–Muller). */
static double grand(void) { return test_grand(&photsynth_rng); }

#endif
