/*
 * tests/plot/test_calplot.c — calibration-table pictures: which axis a table
 * gets, every good solution drawn and flagged ones left out, the PNG decodes
 * at its size, a table written and read back through core/gaintab.
 */
#include "tests/test.h"

#include <complex.h>
#include <errno.h>

#include "plot/calplot.h"
#include "tests/plot/plotsynth.h"

static gaintab *table(int ntime, int nchan)
{
	gaintab *g = gaintab_new(ntime, 4, nchan, 2);
	for (int t = 0; t < ntime; t++)
		g->time_mjd[t] = 61100.25 + t / 1440.0;
	for (int c = 0; c < nchan; c++)
		g->freq_hz[c] = 1.3e9 + c * 0.25e6;
	for (int t = 0; t < ntime; t++)
		for (int a = 0; a < 4; a++)
			for (int c = 0; c < nchan; c++)
				for (int p = 0; p < 2; p++)
					g->gain[gaintab_idx(g, t, a, c, p)] =
						(1 + 0.1f * a) * cexpf(I * 0.05f * (float)(c + t) * a);
	snprintf(g->type, sizeof g->type, "%s", nchan > 1 ? "B" : "G");
	g->refant = 0;
	return g;
}

static void test_bandpass(void)
{
	gaintab *g = table(1, 64);
	unsigned char *buf = NULL;
	size_t len = 0;
	calplot_info in;
	char err[256] = "";
	g->flag[gaintab_idx(g, 0, 2, 10, 0)] = 1;
	g->gain[gaintab_idx(g, 0, 3, 11, 1)] = NAN;
	CHECK_OK(calplot_render(g, NULL, PLOT_PNG, &buf, &len, &in, err, sizeof err), err);
	CHECK(in.x == CALPLOT_VS_FREQ, "against frequency");
	CHECK(in.ncurves == 8, "%d curves", in.ncurves);
	CHECK(in.ngood == 4 * 64 * 2 - 2, "%zu good", in.ngood);
	CHECK_NEAR(in.amp_max, 1.3 * 1.08, 1e-6);
	cairo_surface_t *s = buf ? png_decode(buf, len) : NULL;
	CHECK(s && cairo_image_surface_get_width(s) == PLOT_CAL_WIDTH &&
	      cairo_image_surface_get_height(s) == PLOT_CAL_HEIGHT, "decodes at its size");
	if (s)
		cairo_surface_destroy(s);
	free(buf);
	gaintab_free(g);
}

static void test_gains(void)
{
	char err[256] = "", tab[700], out[700];
	calplot_info in;
	gaintab *g = table(12, 1);
	snprintf(tab, sizeof tab, "%s/g.h5", test_tmpdir());
	snprintf(out, sizeof out, "%s/g.svg", test_tmpdir());
	CHECK_OK(gaintab_write(tab, g, err, sizeof err), err);
	CHECK_OK(calplot_write(tab, out, NULL, &in, err, sizeof err), err);
	CHECK(in.x == CALPLOT_VS_TIME && in.ngood == 12 * 4 * 2, "against time, %zu", in.ngood);
	char cmd[800];
	snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", out);
	CHECK(system(cmd) == 0, "the SVG is well-formed");
	gaintab_free(g);
	/* one solution per antenna: against antenna */
	g = table(1, 1);
	unsigned char *buf = NULL;
	size_t len = 0;
	CHECK_OK(calplot_render(g, "t", PLOT_PNG, &buf, &len, &in, err, sizeof err), err);
	CHECK(in.x == CALPLOT_VS_ANT && in.ngood == 8, "against antenna, %zu", in.ngood);
	free(buf);
	/* everything flagged: nothing to plot */
	memset(g->flag, 1, (size_t)g->ntime * g->nant * g->nchan * g->npol);
	CHECK(calplot_render(g, NULL, PLOT_PNG, &buf, &len, &in, err, sizeof err) == -EINVAL,
	      "all flagged: %s", err);
	gaintab_free(g);
	CHECK(calplot_write("/nonexistent.h5", out, NULL, &in, err, sizeof err) < 0, "missing");
}

int main(void)
{
	RUN(test_bandpass);
	RUN(test_gains);
	plot_release_statics(); /* fontconfig's caches, for LeakSanitizer */
	return TEST_DONE();
}
