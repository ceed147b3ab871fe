/*
 * tests/plot/test_stamp.c — postage stamps: the cut-out is centred on the
 * target's pixel (an image whose pixel values encode their own position),
 * NaN outside the image, sizes in pixels and degrees, the in-memory PNG the
 * web service uses, and strips across epochs.
 */
#include "tests/test.h"

#include <errno.h>

#include "plot/stamp.h"
#include "tests/plot/plotsynth.h"

/* 200² at 6" about (150, +40): pixel (x, y) holds x + 1000 y. */
static const synth_wcs W = { 200, 200, 150.0, 40.0, 6.0 / 3600 };

static const char *image(int which)
{
	static char path[2][600];
	if (path[which][0])
		return path[which];
	snprintf(path[which], sizeof path[which], "%s/img%d.fits", test_tmpdir(), which);
	float *d = malloc((size_t)W.nx * W.ny * sizeof *d);
	for (int y = 0; y < W.ny; y++)
		for (int x = 0; x < W.nx; x++)
			d[(size_t)y * W.nx + x] = which ? 0.0f : (float)(x + 1000 * y);
	if (which) /* a point source at (120, 80) on a flat zero image */
		d[(size_t)80 * W.nx + 120] = 1.0f;
	CHECK(synth_write_fits(path[which], &W, d) == 0, "write");
	free(d);
	return path[which];
}

static void test_centre(void)
{
	double ra, dec;
	plot_stamp s;
	char err[256] = "";
	/* a position 0.3 px from the centre of pixel (120, 80) */
	synth_pix_to_world(&W, 120.3, 79.8, &ra, &dec);
	CHECK_OK(plot_stamp_cut(image(0), ra, dec, 0, 21, &s, err, sizeof err), err);
	if (!s.data)
		return;
	CHECK(s.n == 21 && s.x0 == 110 && s.y0 == 70, "n %d at (%d, %d)", s.n, s.x0, s.y0);
	CHECK(s.data[10 * 21 + 10] == 120 + 1000 * 80, "centre holds %g", s.data[10 * 21 + 10]);
	CHECK(s.data[0] == 110 + 1000 * 70, "corner holds %g", s.data[0]);
	CHECK(s.data[20 * 21 + 20] == 130 + 1000 * 90, "far corner %g", s.data[20 * 21 + 20]);
	CHECK_NEAR(s.tx, 10.3, 1e-6);
	CHECK_NEAR(s.ty, 9.8, 1e-6);
	CHECK_NEAR(s.cell_deg, W.cell_deg, 1e-12);
	CHECK(!strcmp(s.bunit, "JY/BEAM") && !strncmp(s.date_obs, "2026-03-01", 10), "header");
	plot_stamp_release(&s);
	/* an even size becomes odd; a size in degrees: 0.05° / 6" = 30 → 31 */
	CHECK_OK(plot_stamp_cut(image(0), ra, dec, 0, 20, &s, err, sizeof err), err);
	CHECK(s.n == 21, "even 20 → %d", s.n);
	plot_stamp_release(&s);
	CHECK_OK(plot_stamp_cut(image(0), ra, dec, 0.05, 0, &s, err, sizeof err), err);
	CHECK(s.n == 31 && s.x0 == 105, "0.05 deg → %d px at %d", s.n, s.x0);
	plot_stamp_release(&s);
}

/* Near the corner (2, 3): the box runs off the image; those pixels are NaN,
 * the rest hold the image's values in place. */
static void test_edge(void)
{
	double ra, dec;
	plot_stamp s;
	char err[256] = "";
	synth_pix_to_world(&W, 2, 3, &ra, &dec);
	CHECK_OK(plot_stamp_cut(image(0), ra, dec, 0, 21, &s, err, sizeof err), err);
	if (!s.data)
		return;
	CHECK(s.x0 == -8 && s.y0 == -7, "(%d, %d)", s.x0, s.y0);
	int nnan = 0, bad = 0;
	for (int y = 0; y < 21; y++)
		for (int x = 0; x < 21; x++) {
			float v = s.data[y * 21 + x];
			int ix = s.x0 + x, iy = s.y0 + y;
			if (ix < 0 || iy < 0)
				nnan += isnan(v);
			else
				bad += v != ix + 1000 * iy;
		}
	CHECK(nnan == 21 * 21 - 13 * 14, "%d NaN (want %d)", nnan, 21 * 21 - 13 * 14);
	CHECK(bad == 0, "%d misplaced pixels", bad);
	plot_stamp_release(&s);
	/* outside the image altogether */
	synth_pix_to_world(&W, -50, 100, &ra, &dec);
	CHECK(plot_stamp_cut(image(0), ra, dec, 0, 21, &s, err, sizeof err) == -ERANGE,
	      "outside: %s", err);
	CHECK(plot_stamp_cut(image(0), ra, dec, 0, PLOT_STAMP_MAX + 2, &s, err, sizeof err) ==
		      -EINVAL, "too big");
	CHECK(plot_stamp_cut("/nonexistent.fits", ra, dec, 0, 21, &s, err, sizeof err) == -ENOENT,
	      "missing file");
}

/* The web service's PNG: decodes, one stamp wide, the source white at the
 * stamp's centre (inside the cross-hair's gap). */
static void test_png_mem(void)
{
	double ra, dec;
	unsigned char *png = NULL;
	size_t len = 0;
	char err[256] = "";
	synth_pix_to_world(&W, 120, 80, &ra, &dec);
	CHECK_OK(plot_stamp_png_mem(image(1), ra, dec, 21 * W.cell_deg, &png, &len, err,
				    sizeof err), err);
	if (!png)
		return;
	cairo_surface_t *s = png_decode(png, len);
	CHECK(s != NULL, "decodes");
	if (s) {
		int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
		CHECK(w > PLOT_STAMP_PX && w < 2 * PLOT_STAMP_PX && h > PLOT_STAMP_PX, "%d x %d",
		      w, h);
		/* Find the stamp: the white pixels' bounding box is the source's
		 * enlarged pixel, 200/21 ≈ 9.5 px wide, in the middle of the stamp. */
		int x0 = w, x1 = -1, y0 = h, y1 = -1;
		for (int y = 35; y < 234; y++) /* inside the stamp: [12, 212) x [34, 234) */
			for (int x = 13; x < 212; x++)
				if (png_pixel(s, x, y) == 0xffffff &&
				    png_pixel(s, x - 1, y) == 0xffffff &&
				    png_pixel(s, x, y - 1) == 0xffffff) {
					x0 = x < x0 ? x : x0;
					x1 = x > x1 ? x : x1;
					y0 = y < y0 ? y : y0;
					y1 = y > y1 ? y : y1;
				}
		CHECK(x1 - x0 >= 6 && x1 - x0 <= 10 && y1 - y0 >= 6 && y1 - y0 <= 10,
		      "a source of one enlarged pixel: %d..%d x %d..%d", x0, x1, y0, y1);
		/* its centre is the stamp's: the stamp spans [12, 212) across */
		CHECK(fabs(0.5 * (x0 + x1) - (12 + 100)) < 6, "centred across (%g)", 0.5 * (x0 + x1));
		CHECK(fabs(0.5 * (y0 + y1) - (34 + 100)) < 6, "centred down (%g)", 0.5 * (y0 + y1));
		cairo_surface_destroy(s);
	}
	free(png);
}

/* A strip: the image without the position is left out. */
static void test_strip(void)
{
	double ra, dec;
	char out[700], err[256] = "";
	size_t used = 0;
	synth_pix_to_world(&W, 120, 80, &ra, &dec);
	const char *paths[3] = { image(0), "/nonexistent.fits", image(1) };
	const char *labels[3] = { "epoch 1", "gone", "epoch 3" };
	snprintf(out, sizeof out, "%s/strip.png", test_tmpdir());
	CHECK_OK(plot_stamp_strip_write(paths, labels, 3, ra, dec, 0.02, out, &used, err,
					sizeof err), err);
	CHECK(used == 2, "%zu used", used);
	cairo_surface_t *s = cairo_image_surface_create_from_png(out);
	CHECK(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "decodes");
	int w1 = cairo_image_surface_get_width(s);
	cairo_surface_destroy(s);
	/* one stamp less → exactly one stamp width (and its gap) narrower */
	const char *one[1] = { image(0) };
	CHECK_OK(plot_stamp_strip_write(one, NULL, 1, ra, dec, 0.02, out, &used, err, sizeof err),
		 err);
	s = cairo_image_surface_create_from_png(out);
	CHECK(cairo_image_surface_get_width(s) + PLOT_STAMP_PX + 12 == w1, "widths %d, %d",
	      cairo_image_surface_get_width(s), w1);
	cairo_surface_destroy(s);
	synth_pix_to_world(&W, 500, 500, &ra, &dec);
	CHECK(plot_stamp_strip_write(one, NULL, 1, ra, dec, 0.02, out, &used, err, sizeof err) ==
		      -ERANGE, "nothing contains it");
}

int main(void)
{
	RUN(test_centre);
	RUN(test_edge);
	RUN(test_png_mem);
	RUN(test_strip);
	plot_release_statics(); /* fontconfig's caches, for LeakSanitizer */
	return TEST_DONE();
}
