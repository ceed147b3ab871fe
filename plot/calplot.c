/*
 * plot/calplot.c — bandpass and gain pictures (plot/calplot.h).
 */
#include "plot/calplot.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define ML 80
#define MR 120  /* the antenna key */
#define MT 44
#define GAPY 60 /* between the two panels (the upper one's axis labels) */
#define MB 50

static int good(const gaintab *g, size_t i)
{
	float complex v = g->gain[i];
	return !(g->flag && g->flag[i]) && isfinite(crealf(v)) && isfinite(cimagf(v)) &&
	       cabsf(v) > 0;
}

/* One curve of an antenna/pol along the x axis (frequency or time), with
 * the other index fixed; amp (is_amp) or phase. */
/* The x of a solution: frequency (MHz), minutes from t_ref, or the antenna
 * number (enum calplot_x). */
static double xval(const gaintab *g, int mode, int t, int a, int c, double t_ref)
{
	if (mode == CALPLOT_VS_FREQ)
		return g->freq_hz[c] / 1e6;
	if (mode == CALPLOT_VS_TIME)
		return (g->time_mjd[t] - t_ref) * 1440.0;
	return g->antenna_numbers ? g->antenna_numbers[a] : a;
}

static int draw_curve(cairo_t *cr, const gaintab *g, const plot_frame *f, int mode, int a,
		      int p, int other, int is_amp, double t_ref, size_t *ngood)
{
	int vs_freq = mode == CALPLOT_VS_FREQ;
	int n = vs_freq ? g->nchan : g->ntime, pen = 0, any = 0;
	double prev = NAN;
	for (int k = 0; k < n; k++) {
		int t = vs_freq ? other : k, c = vs_freq ? k : other;
		size_t i = gaintab_idx(g, t, a, c, p);
		if (!good(g, i)) {
			pen = 0;
			continue;
		}
		double x = xval(g, mode, t, a, c, t_ref);
		double y = is_amp ? cabsf(g->gain[i]) : cargf(g->gain[i]) * 180.0 / M_PI;
		double cx = plot_fx(f, x), cy = plot_fy(f, y);
		/* A phase that wraps (a jump of more than 180°) is not joined. */
		if (!is_amp && pen && fabs(y - prev) > 180)
			pen = 0;
		prev = y;
		if (pen)
			cairo_line_to(cr, cx, cy);
		else
			cairo_move_to(cr, cx, cy);
		/* A lone solution (or one between gaps) shows as a dot; against
		 * antenna every solution is one. */
		if (mode == CALPLOT_VS_ANT) {
			/* X a filled square, Y an open one. */
			cairo_save(cr);
			cairo_set_dash(cr, NULL, 0, 0);
			cairo_rectangle(cr, cx - 2.5, cy - 2.5, 5, 5);
			if (p)
				cairo_stroke(cr);
			else
				cairo_fill(cr);
			cairo_restore(cr);
			any = 1;
			if (is_amp)
				(*ngood)++;
			continue;
		} else
			cairo_rectangle(cr, cx - 1, cy - 1, 2, 2);
		cairo_move_to(cr, cx, cy);
		pen = 1;
		any = 1;
		if (is_amp)
			(*ngood)++;
	}
	cairo_stroke(cr);
	return any;
}

int calplot_render(const gaintab *g, const char *title, plot_format fmt,
		   unsigned char **ret_buf, size_t *ret_len, calplot_info *ret_info, char *err,
		   size_t errlen)
{
	calplot_info in;
	plot_canvas cv;
	memset(&in, 0, sizeof in);
	in.x = g->nchan > 1 ? CALPLOT_VS_FREQ : g->ntime > 1 ? CALPLOT_VS_TIME : CALPLOT_VS_ANT;

	/* Ranges from the good solutions. */
	double amax = 0, xlo = INFINITY, xhi = -INFINITY;
	double t_ref = g->ntime > 0 ? g->time_mjd[0] : 0;
	for (int t = 0; t < g->ntime; t++)
		t_ref = fmin(t_ref, g->time_mjd[t]);
	size_t total = (size_t)g->ntime * g->nant * g->nchan * g->npol, ngood = 0;
	for (int t = 0; t < g->ntime; t++)
		for (int a = 0; a < g->nant; a++)
			for (int c = 0; c < g->nchan; c++)
				for (int p = 0; p < g->npol; p++) {
					size_t i = gaintab_idx(g, t, a, c, p);
					if (!good(g, i))
						continue;
					ngood++;
					amax = fmax(amax, cabsf(g->gain[i]));
					double x = xval(g, in.x, t, a, c, t_ref);
					xlo = fmin(xlo, x);
					xhi = fmax(xhi, x);
				}
	(void)total;
	if (!ngood)
		return err_set(err, errlen, -EINVAL, "the table has no good solution to plot");
	if (!(xhi > xlo)) {
		double d = in.x == CALPLOT_VS_FREQ ? 0.5 : 1;
		xlo -= d;
		xhi += d;
	}
	double pad = 0.02 * (xhi - xlo);
	in.amp_max = amax * 1.08;

	int r = plot_canvas_begin(&cv, PLOT_CAL_WIDTH, PLOT_CAL_HEIGHT, fmt, err, errlen);
	if (r < 0)
		return r;
	cairo_t *cr = cv.cr;
	double pw = PLOT_CAL_WIDTH - ML - MR, ph = (PLOT_CAL_HEIGHT - MT - GAPY - MB) / 2.0;
	plot_frame fa = { ML, MT, pw, ph, xlo - pad, xhi + pad, 0, in.amp_max };
	plot_frame fp = { ML, MT + ph + GAPY, pw, ph, xlo - pad, xhi + pad, -180, 180 };
	const char *xl = in.x == CALPLOT_VS_FREQ ? "frequency (MHz)"
			 : in.x == CALPLOT_VS_TIME ? "time (minutes from the first solution)"
						   : "antenna number";
	plot_frame_draw(cr, &fa, 0, NULL, NULL, 0, xl, "amplitude");
	plot_frame_draw(cr, &fp, 0, NULL, NULL, 90, xl, "phase (deg)");

	int nother = in.x == CALPLOT_VS_FREQ ? g->ntime : g->nchan;
	for (int pass = 0; pass < 2; pass++) {
		const plot_frame *f = pass ? &fp : &fa;
		plot_frame_clip(cr, f);
		cairo_set_line_width(cr, 1);
		for (int a = 0; a < g->nant; a++) {
			double rgb[3];
			plot_series_colour(a, g->nant, rgb);
			cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
			for (int p = 0; p < g->npol; p++) {
				double dash[] = { 4, 3 };
				cairo_set_dash(cr, dash, p ? 2 : 0, 0);
				for (int o = 0; o < nother; o++)
					if (draw_curve(cr, g, f, in.x, a, p, o, !pass, t_ref,
						       &in.ngood) &&
					    !pass)
						in.ncurves++;
			}
		}
		cairo_set_dash(cr, NULL, 0, 0);
		cairo_restore(cr);
	}
	/* The key: a colour strip of antenna numbers. */
	double kx = ML + pw + 24, ky = MT, kh = 2 * ph + GAPY;
	for (int a = 0; a < g->nant; a++) {
		double rgb[3];
		plot_series_colour(a, g->nant, rgb);
		cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
		cairo_rectangle(cr, kx, ky + kh * a / g->nant, 14, kh / g->nant + 0.5);
		cairo_fill(cr);
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	int kstep = g->nant > 12 ? (int)plot_nice_step(g->nant, 10) : 1;
	for (int a = 0; a < g->nant; a += kstep) {
		char lab[16];
		snprintf(lab, sizeof lab, "%d", g->antenna_numbers ? g->antenna_numbers[a] : a);
		plot_text(cr, kx + 18, ky + kh * (a + 0.5) / g->nant, 10, 0, 0.5, 0, 0, lab);
	}
	plot_text(cr, kx + 7, ky - 8, 11, 0.5, 1, 0, 0, "antenna");
	plot_text(cr, kx, ky + kh + 10, 10, 0, 0, 0, 0,
		  g->npol < 2 ? "" : in.x == CALPLOT_VS_ANT ? "X filled, Y open" : "X solid, Y dashed");

	char tbuf[256];
	if (!title) {
		snprintf(tbuf, sizeof tbuf, "%s table%s%s%s%s, refant %d, %d ant \xc3\x97 %d chan \xc3\x97 %d time",
			 g->type[0] == 'B' ? "bandpass (B)" : g->type[0] == 'G' ? "gain (G)"
			 : g->type[0] == 'K' ? "delay (K)" : "calibration",
			 g->calibrator[0] ? " of " : "", g->calibrator,
			 g->source_group[0] ? " from " : "", g->source_group, g->refant, g->nant,
			 g->nchan, g->ntime);
		title = tbuf;
	}
	plot_text(cr, ML, 14, 14, 0, 0, 0, 1, title);
	r = plot_canvas_save_mem(&cv, ret_buf, ret_len, err, errlen);
	if (r == 0 && ret_info)
		*ret_info = in;
	return r;
}

int calplot_write(const char *table_path, const char *out_path, const char *title,
		  calplot_info *ret_info, char *err, size_t errlen)
{
	gaintab *g = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = gaintab_read(table_path, &g, err, errlen);
	if (r < 0)
		return r;
	r = calplot_render(g, title, plot_format_of(out_path), &buf, &len, ret_info, err, errlen);
	if (r == 0)
		r = plot_write_file(out_path, buf, len, err, errlen);
	free(buf);
	gaintab_free(g);
	return r;
}
