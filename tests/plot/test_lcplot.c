/*
 * tests/plot/test_lcplot.c — light curves: the SVG is well-formed and has one
 * point per finite flux, the PNG decodes at its size, dates label the time
 * axis, and a light curve with only raw fluxes (no normalised one yet)
 * plots them instead of failing "no finite point to plot" (issue 18).
 */
#include "tests/test.h"

#include <errno.h>

#include "plot/lcplot.h"
#include "tests/plot/plotsynth.h"

enum { N = 40 };
static double t[N], fn[N], en[N], fr[N], er[N], mt[100], mf[100];

static void fill(void)
{
	uint64_t rng = 77;
	for (int i = 0; i < N; i++) {
		t[i] = 61100 + i; /* 2026-02-25 onwards */
		fr[i] = 0.5 + 0.005 * test_grand(&rng);
		er[i] = 0.005;
		fn[i] = i < 5 ? NAN : fr[i] * 1.02; /* five epochs while the baseline was built */
		en[i] = i < 5 ? NAN : 0.005;
	}
	fn[20] = NAN;
	for (int k = 0; k < 100; k++) {
		mt[k] = 61100 + 0.4 * k;
		mf[k] = 0.5 - 0.1 * exp(-0.5 * pow((mt[k] - 61120) / 4, 2));
	}
}

/* Count a substring. */
static int count(const unsigned char *buf, size_t len, const char *needle)
{
	int n = 0;
	size_t m = strlen(needle);
	for (size_t i = 0; i + m <= len; i++)
		if (!memcmp(buf + i, needle, m))
			n++;
	return n;
}

/* The point colour as cairo's SVG surface writes it (percent, 6 decimals). */
static void point_style(char *buf, size_t len)
{
	snprintf(buf, len, "fill:rgb(%f%%,%f%%,%f%%)", PLOT_LC_POINT_R / 255.0 * 100,
		 PLOT_LC_POINT_G / 255.0 * 100, PLOT_LC_POINT_B / 255.0 * 100);
}

static void test_svg(void)
{
	fill();
	lcplot_data d = { .title = "J0834+5512 & <friends>", .n = N, .mjd = t, .norm_flux = fn,
			  .norm_err = en, .raw_flux = fr, .raw_err = er, .base_mjd0 = 61100,
			  .base_mjd1 = 61104, .win_mjd0 = 61116, .win_mjd1 = 61124, .nmodel = 100,
			  .model_mjd = mt, .model_flux = mf, .model_label = "ESE model" };
	unsigned char *buf = NULL;
	size_t len = 0;
	lcplot_info in;
	char err[256] = "", style[96], path[700], cmd[800];
	CHECK_OK(lcplot_render(&d, PLOT_SVG, &buf, &len, &in, err, sizeof err), err);
	if (!buf)
		return;
	CHECK(!in.raw && in.npoints == N - 6, "normalised, %zu points", in.npoints);
	point_style(style, sizeof style);
	CHECK(count(buf, len, style) == N - 6, "%d points in the SVG (want %d)",
	      count(buf, len, style), N - 6);
	CHECK(count(buf, len, "<svg") == 1 && count(buf, len, "</svg>") == 1, "one svg element");
	CHECK(count(buf, len, "width=\"900px\" height=\"420px\"") == 1, "900 x 420");
	/* well-formed: xmllint */
	snprintf(path, sizeof path, "%s/lc.svg", test_tmpdir());
	FILE *f = fopen(path, "wb");
	fwrite(buf, 1, len, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
	CHECK(system(cmd) == 0, "xmllint accepts it");
	free(buf);
	/* the dates on the axis: every 7 days over the 40 */
	CHECK(in.ndates >= 4, "%d dates", in.ndates);
	int march = 0;
	for (int k = 0; k < in.ndates; k++)
		march += !strncmp(in.dates[k], "2026-03-", 8);
	CHECK(march >= 3, "March dates");
	/* the model's fall to 0.4 Jy is inside the axis range, mJy */
	CHECK(in.y0 < 500 && in.y1 > 500, "y %g..%g mJy", in.y0, in.y1);
}

/* Only raw fluxes (every normalised one NaN): plotted raw, the axis says so.
 * Before issue 18 this failed with "no finite point to plot". */
static void test_raw_only(void)
{
	fill();
	double nan_[N];
	for (int i = 0; i < N; i++)
		nan_[i] = NAN;
	lcplot_data d = { .title = "raw", .n = N, .mjd = t, .norm_flux = nan_, .norm_err = nan_,
			  .raw_flux = fr, .raw_err = er };
	unsigned char *buf = NULL;
	size_t len = 0;
	lcplot_info in;
	char err[256] = "", style[96];
	CHECK_OK(lcplot_render(&d, PLOT_SVG, &buf, &len, &in, err, sizeof err), err);
	CHECK(in.raw == 1 && in.npoints == N, "raw %d, %zu points", in.raw, in.npoints);
	point_style(style, sizeof style);
	CHECK(buf && count(buf, len, style) == N, "every raw point drawn");
	CHECK(in.y0 < 500 && in.y1 > 500, "raw fluxes in mJy: %g..%g", in.y0, in.y1);
	free(buf);
	buf = NULL;
	/* the same through the file writer, as PNG */
	char path[700];
	snprintf(path, sizeof path, "%s/raw.png", test_tmpdir());
	CHECK_OK(lcplot_write(&d, path, PLOT_PNG, &in, err, sizeof err), err);
	cairo_surface_t *s = cairo_image_surface_create_from_png(path);
	CHECK(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS &&
	      cairo_image_surface_get_width(s) == PLOT_LC_WIDTH &&
	      cairo_image_surface_get_height(s) == PLOT_LC_HEIGHT, "the PNG decodes at 900 x 420");
	/* the points' colour is in the picture */
	int pts = 0;
	for (int y = 0; y < PLOT_LC_HEIGHT; y++)
		for (int x = 0; x < PLOT_LC_WIDTH; x++) {
			long p = png_pixel(s, x, y);
			pts += PX_R(p) == PLOT_LC_POINT_R && PX_G(p) == PLOT_LC_POINT_G &&
			       PX_B(p) == PLOT_LC_POINT_B;
		}
	CHECK(pts >= N * 10, "%d point pixels", pts);
	cairo_surface_destroy(s);
	/* no raw array either: nothing to plot */
	lcplot_data none = { .n = N, .mjd = t, .norm_flux = nan_ };
	CHECK(lcplot_render(&none, PLOT_PNG, &buf, &len, NULL, err, sizeof err) == -EINVAL &&
		      strstr(err, "no finite point"), "nothing: %s", err);
	/* and the writer names the file */
	CHECK(lcplot_write(&none, path, PLOT_SVG, NULL, err, sizeof err) == -EINVAL &&
		      strstr(err, path), "%s", err);
}

int main(void)
{
	RUN(test_svg);
	RUN(test_raw_only);
	plot_release_statics(); /* fontconfig's caches, for LeakSanitizer */
	return TEST_DONE();
}
