/*
 * tests/plot/test_qlook.c — the quick-look picture: size and binning, a point
 * source where it belongs, catalog circles around their pixels, RA/Dec labels
 * that say the sky position of the place they label (checked against a SIN
 * projection done by hand), zscale against astropy, the stretches.
 */
#include "tests/test.h"

#include <errno.h>
#include <stdint.h>

#include "plot/qlook.h"
#include "tests/plot/plotsynth.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

/* 2048² at 6": 3.4° — noise σ = 1 mJy, a 3×3 bright square at (1500, 700)
 * so that it survives the 2×2 binning, CRVAL (127.5, +55.0) = 08h30m, +55°. */
static const synth_wcs W = { 2048, 2048, 127.5, 55.0, 6.0 / 3600 };
static const int SX = 1500, SY = 700;

static const char *make_image(void)
{
	static char path[600];
	if (path[0])
		return path;
	snprintf(path, sizeof path, "%s/synth.fits", test_tmpdir());
	float *d = malloc((size_t)W.nx * W.ny * sizeof *d);
	for (size_t i = 0; i < (size_t)W.nx * W.ny; i++)
		d[i] = (float)(1e-3 * test_grand(&rng));
	for (int y = SY - 1; y <= SY + 1; y++)
		for (int x = SX - 1; x <= SX + 1; x++)
			d[(size_t)y * W.nx + x] = 1.0f;
	/* a blanked corner */
	for (int y = 0; y < 40; y++)
		for (int x = 0; x < 40; x++)
			d[(size_t)y * W.nx + x] = NAN;
	CHECK(synth_write_fits(path, &W, d) == 0, "write the synthetic FITS");
	free(d);
	return path;
}

static int render(const plot_qlook_opts *o, cairo_surface_t **ret_s, plot_qlook_info *in)
{
	plot_fits img;
	char err[256] = "";
	unsigned char *buf = NULL;
	size_t len = 0;
	CHECK_OK(plot_fits_read(make_image(), 1, &img, err, sizeof err), err);
	int r = plot_qlook_render(&img, o, PLOT_PNG, &buf, &len, in, err, sizeof err);
	CHECK_OK(r, err);
	plot_fits_release(&img);
	*ret_s = r ? NULL : png_decode(buf, len);
	CHECK(r || !strncmp((const char *)buf, "\x89PNG\r\n\x1a\n", 8), "PNG signature");
	free(buf);
	return r;
}

/* The PNG decodes, its size is the canvas's, the image binned 2×2 to 1024. */
static void test_png_size(void)
{
	cairo_surface_t *s;
	plot_qlook_info in;
	if (render(NULL, &s, &in) || !s) {
		CHECK(0, "render");
		return;
	}
	CHECK(in.factor == 2, "factor %d", in.factor);
	CHECK(in.nxd == 1024 && in.nyd == 1024, "%d x %d", in.nxd, in.nyd);
	CHECK(cairo_image_surface_get_width(s) == in.width, "width %d vs %d",
	      cairo_image_surface_get_width(s), in.width);
	CHECK(cairo_image_surface_get_height(s) == in.height, "height");
	CHECK(in.width > 1024 + 100 && in.height > 1024 + 60, "room for labels and the bar");
	cairo_surface_destroy(s);

	/* max_px 500 on 2048: factor ceil(2048/500) = 5, 410 picture pixels */
	plot_qlook_opts o = { .max_px = 500 };
	if (render(&o, &s, &in) || !s)
		return;
	CHECK(in.factor == 5 && in.nxd == 410, "factor %d nxd %d", in.factor, in.nxd);
	CHECK(cairo_image_surface_get_width(s) == in.width, "width");
	cairo_surface_destroy(s);
}

/* The bright square is white at its binned pixel; the noise is mid-grey;
 * the blanked corner has the blank colour, not black. */
static void test_point_source(void)
{
	cairo_surface_t *s;
	plot_qlook_info in;
	if (render(NULL, &s, &in) || !s) {
		CHECK(0, "render");
		return;
	}
	/* Independent of pix_to_canvas: binned column SX/2, row counted from the top. */
	int cx = (int)in.img_x0 + SX / 2, cy = (int)in.img_y0 + (in.nyd - 1 - SY / 2);
	double fx, fy;
	plot_qlook_pix_to_canvas(&in, SX, SY, &fx, &fy);
	CHECK((int)floor(fx) == cx && (int)floor(fy) == cy, "canvas (%g, %g) vs (%d, %d)", fx,
	      fy, cx, cy);
	long v = png_pixel(s, cx, cy);
	CHECK(PX_R(v) == 255 && PX_G(v) == 255 && PX_B(v) == 255, "source pixel %06lx", v);
	/* A mirror position (no source) is not saturated; the mean of a noise
	 * patch is mid-grey (zscale centres on the median). */
	double sum = 0;
	int n = 0, sat = 0;
	for (int y = 0; y < 40; y++)
		for (int x = 0; x < 40; x++) {
			long p = png_pixel(s, (int)in.img_x0 + 300 + x, (int)in.img_y0 + 300 + y);
			sum += PX_G(p);
			sat += PX_G(p) == 255;
			n++;
		}
	CHECK(fabs(sum / n - 127.5) < 20, "noise mean grey %g", sum / n);
	CHECK(sat < n / 20, "%d saturated noise pixels", sat);
	/* the blank corner: pixel (5, 5) → binned (2, 2) */
	long b = png_pixel(s, (int)in.img_x0 + 2, (int)in.img_y0 + in.nyd - 1 - 2);
	CHECK(PX_B(b) > PX_R(b) && PX_R(b) > 150, "blank colour %06lx", b);
	cairo_surface_destroy(s);
}

/* A catalog source at the world position of pixel (400, 1600) (computed by
 * hand) is circled there: green on a ring of radius 8 around its pixel, and
 * one outside the image is not counted. */
static void test_circle(void)
{
	plot_source src[2];
	memset(src, 0, sizeof src);
	synth_pix_to_world(&W, 400, 1600, &src[0].ra_deg, &src[0].dec_deg);
	snprintf(src[0].label, sizeof src[0].label, "J0000+0000");
	src[1].ra_deg = 10;
	src[1].dec_deg = -30;
	plot_qlook_opts o = { .sources = src, .nsources = 2 };
	cairo_surface_t *s;
	plot_qlook_info in;
	if (render(&o, &s, &in) || !s) {
		CHECK(0, "render");
		return;
	}
	CHECK(in.ncircled == 1, "%d circled", in.ncircled);
	double cx = in.img_x0 + 400.5 / 2, cy = in.img_y0 + in.nyd - 1600.5 / 2;
	int green = 0;
	for (int k = 0; k < 16; k++) {
		double a = 2 * M_PI * k / 16;
		long p = png_pixel(s, (int)floor(cx + 8 * cos(a)), (int)floor(cy + 8 * sin(a)));
		green += PX_G(p) > 150 && PX_R(p) < 120 && PX_B(p) < 120;
	}
	CHECK(green >= 12, "%d of 16 ring samples green", green);
	long c = png_pixel(s, (int)floor(cx), (int)floor(cy));
	CHECK(!(PX_G(c) > 150 && PX_R(c) < 120), "the centre is not drawn over");
	cairo_surface_destroy(s);
}

static int parse_ra(const char *s, double *deg)
{
	int h, m, sec = 0;
	if (sscanf(s, "%dh%dm%ds", &h, &m, &sec) < 2)
		return -1;
	*deg = 15.0 * (h + m / 60.0 + sec / 3600.0);
	return 0;
}

static int parse_dec(const char *s, double *deg)
{
	int d, m, sec = 0;
	char sign;
	/* "+DD°MM'SS\"": the degree sign is two bytes of UTF-8 */
	if (sscanf(s, "%c%d\xc2\xb0%d'%d", &sign, &d, &m, &sec) < 3)
		return -1;
	*deg = (sign == '-' ? -1 : 1) * (d + m / 60.0 + sec / 3600.0);
	return 0;
}

/* Every label says the sky position (by hand, SIN) of the edge point it
 * labels, within a fifth of a pixel; CRVAL's meridian is labelled 08h30m at
 * the reference column. */
static void test_wcs_labels(void)
{
	cairo_surface_t *s;
	plot_qlook_info in;
	if (render(NULL, &s, &in) || !s) {
		CHECK(0, "render");
		return;
	}
	cairo_surface_destroy(s);
	CHECK(in.nra >= 3 && in.ndec >= 3, "%d RA and %d Dec lines", in.nra, in.ndec);
	int found_ref = 0, found_dec0 = 0;
	for (int k = 0; k < in.nra; k++) {
		const plot_tick *t = &in.ra[k];
		double lab = NAN, ra, dec;
		CHECK(parse_ra(t->label, &lab) == 0, "RA label '%s'", t->label);
		CHECK(fabs(t->y + 0.5) < 1e-9, "on the bottom edge");
		synth_pix_to_world(&W, t->x, t->y, &ra, &dec);
		double dra = fmod(ra - lab + 540, 360) - 180;
		CHECK(fabs(dra) * cos(dec * M_PI / 180) < 0.2 * W.cell_deg,
		      "'%s' at x %.2f is RA %.6f (%.3f px off)", t->label, t->x, ra,
		      fabs(dra) * cos(dec * M_PI / 180) / W.cell_deg);
		if (!strcmp(t->label, "08h30m") || !strcmp(t->label, "08h30m00s")) {
			found_ref = 1;
			CHECK(fabs(t->x - W.nx / 2) < 0.05, "CRVAL1's meridian at x %.3f", t->x);
		}
	}
	for (int k = 0; k < in.ndec; k++) {
		const plot_tick *t = &in.dec[k];
		double lab = NAN, ra, dec;
		CHECK(parse_dec(t->label, &lab) == 0, "Dec label '%s'", t->label);
		CHECK(fabs(t->x + 0.5) < 1e-9, "on the left edge");
		synth_pix_to_world(&W, t->x, t->y, &ra, &dec);
		CHECK(fabs(dec - lab) < 0.2 * W.cell_deg, "'%s' at y %.2f is Dec %.6f", t->label,
		      t->y, dec);
		found_dec0 |= !strcmp(t->label, "+55\xc2\xb0" "00'");
	}
	CHECK(found_ref, "a line labelled 08h30m");
	CHECK(found_dec0, "a line labelled +55°00'");
	/* The formats themselves. */
	char b[32];
	plot_format_ra(127.5 + 15.0 * 30 / 3600, 30, b, sizeof b);
	CHECK(!strcmp(b, "08h30m30s"), "%s", b);
	plot_format_ra(-0.25, 60, b, sizeof b);
	CHECK(!strcmp(b, "23h59m"), "%s", b);
	plot_format_dec(-0.5, 60, b, sizeof b);
	CHECK(!strcmp(b, "-00\xc2\xb0" "30'"), "%s", b);
	plot_format_dec(55.0 + 15.0 / 3600, 15, b, sizeof b);
	CHECK(!strcmp(b, "+55\xc2\xb0" "00'15\""), "%s", b);
}

/* zscale against astropy 5.2.1's ZScaleInterval (numbers computed with it
 * on the same data: see the python line in the comment). */
static void test_zscale(void)
{
	/* i = arange(5000); v = ((i*7919) % 1000)/1000 + where(i%97 == 0, 50, 0)
	 * → ZScaleInterval().get_limits(v.astype(float32)) = (0, 2.53012025) */
	float *v = malloc(5000 * sizeof *v);
	for (int i = 0; i < 5000; i++)
		v[i] = (float)(((long)i * 7919 % 1000) / 1000.0 + (i % 97 == 0 ? 50 : 0));
	double lo, hi;
	CHECK(plot_zscale(v, 5000, &lo, &hi) == 0, "zscale");
	CHECK_NEAR(lo, 0, 1e-6);
	CHECK_NEAR(hi, 2.53012025, 5e-5); /* astropy fits in float32 */
	/* w = sin(0.7 j)·3 + 0.01 j, j < 300 → (-2.87735772, 5.83154058) */
	for (int j = 0; j < 300; j++)
		v[j] = (float)(sin(j * 0.7) * 3 + j * 0.01);
	CHECK(plot_zscale(v, 300, &lo, &hi) == 0, "zscale");
	CHECK_NEAR(lo, -2.87735772, 5e-5);
	CHECK_NEAR(hi, 5.83154058, 5e-5);
	v[0] = NAN;
	for (int j = 0; j < 300; j++)
		v[j] = NAN;
	CHECK(plot_zscale(v, 300, &lo, &hi) == -EINVAL, "no finite value");
	free(v);
}

static void test_stretch(void)
{
	plot_stretch lin = { PLOT_STRETCH_LINEAR, -1, 3, 0 }, as = { PLOT_STRETCH_ASINH, 0, 10, 0.01 };
	CHECK_NEAR(plot_stretch_apply(&lin, 1), 0.5, 1e-12);
	CHECK_NEAR(plot_stretch_apply(&lin, -5), 0, 1e-12);
	CHECK_NEAR(plot_stretch_apply(&lin, 9), 1, 1e-12);
	CHECK(isnan(plot_stretch_apply(&lin, NAN)), "NaN stays NaN");
	for (double v = 0; v <= 10; v += 0.37)
		CHECK_NEAR(plot_stretch_invert(&as, plot_stretch_apply(&as, v)), v, 1e-9);
	/* asinh lifts the faint end: 1 % of the range is far above 1 % of grey */
	CHECK(plot_stretch_apply(&as, 0.1) > 0.1, "asinh(0.01/0.01)/asinh(100) = %g",
	      plot_stretch_apply(&as, 0.1));
	CHECK_NEAR(plot_stretch_apply(&as, 10), 1, 1e-12);
}

/* The file path: plot_qlook_write writes a PNG (and an SVG by name) that
 * decode / parse; a missing FITS is -ENOENT. */
static void test_write(void)
{
	char out[700], svg[700], err[256] = "";
	snprintf(out, sizeof out, "%s/ql.png", test_tmpdir());
	snprintf(svg, sizeof svg, "%s/ql.svg", test_tmpdir());
	plot_qlook_opts o = { .max_px = 256, .stretch = PLOT_STRETCH_ASINH };
	plot_qlook_info in;
	CHECK_OK(plot_qlook_write(make_image(), out, &o, &in, err, sizeof err), err);
	cairo_surface_t *s = cairo_image_surface_create_from_png(out);
	CHECK(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS &&
	      cairo_image_surface_get_width(s) == in.width, "the file decodes");
	cairo_surface_destroy(s);
	/* the peak of the picture: the 3×3 square of 1 Jy inside one 8×8 block */
	CHECK(in.factor == 8 && in.stretch.kind == PLOT_STRETCH_ASINH, "asinh, factor %d",
	      in.factor);
	CHECK_NEAR(in.stretch.vmax, 9.0 / 64, 0.002);
	CHECK_OK(plot_qlook_write(make_image(), svg, &o, NULL, err, sizeof err), err);
	char cmd[800];
	snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", svg);
	CHECK(system(cmd) == 0, "xmllint accepts the SVG");
	CHECK(plot_qlook_write("/nonexistent.fits", out, &o, NULL, err, sizeof err) == -ENOENT,
	      "missing FITS: %s", err);
}

int main(void)
{
	RUN(test_png_size);
	RUN(test_point_source);
	RUN(test_circle);
	RUN(test_wcs_labels);
	RUN(test_zscale);
	RUN(test_stretch);
	RUN(test_write);
	plot_release_statics(); /* fontconfig's caches, for LeakSanitizer */
	return TEST_DONE();
}
