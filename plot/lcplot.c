/*
 * plot/lcplot.c — light curves on cairo (plot/lcplot.h).
 */
#include "plot/lcplot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

#define ML 80   /* margins: left, right, top, bottom */
#define MR 45
#define MT 40
#define MB 60
#define MJD_UNIX_EPOCH 40587.0

static void mjd_date(double mjd, char *buf, size_t len)
{
	time_t t = (time_t)floor((mjd - MJD_UNIX_EPOCH) * 86400.0 + 0.5);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

static void date_fmt(double v, char *buf, size_t len, void *arg)
{
	lcplot_info *in = arg;
	mjd_date(v, buf, len);
	if (in->ndates < 16)
		snprintf(in->dates[in->ndates++], sizeof in->dates[0], "%s", buf);
}

static int has_range(double a, double b)
{
	return isfinite(a) && isfinite(b) && a > 0 && b >= a;
}

static void shade(cairo_t *cr, const plot_frame *f, double a, double b, double r, double g,
		  double bl, const char *label)
{
	double x0 = plot_fx(f, a), x1 = plot_fx(f, b);
	cairo_set_source_rgb(cr, r, g, bl);
	cairo_rectangle(cr, x0, f->y0, x1 - x0, f->h);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, r * 0.5, g * 0.55, bl * 0.65);
	plot_text(cr, x0 + 3, f->y0 + 6, 11, 0, 0, 0, 0, label);
}

int lcplot_render(const lcplot_data *d, plot_format fmt, unsigned char **ret_buf,
		  size_t *ret_len, lcplot_info *ret_info, char *err, size_t errlen)
{
	lcplot_info in;
	plot_canvas cv;
	double ys = d->yscale > 0 ? d->yscale : 1e3;
	const char *unit = d->unit ? d->unit : "mJy";
	memset(&in, 0, sizeof in);

	/* Normalised when any normalised point is finite, else raw. */
	const double *f = NULL, *e = NULL;
	for (size_t i = 0; d->norm_flux && i < d->n; i++)
		if (isfinite(d->norm_flux[i]) && isfinite(d->mjd[i])) {
			f = d->norm_flux;
			e = d->norm_err;
			break;
		}
	if (!f) {
		for (size_t i = 0; d->raw_flux && i < d->n; i++)
			if (isfinite(d->raw_flux[i]) && isfinite(d->mjd[i])) {
				f = d->raw_flux;
				e = d->raw_err;
				in.raw = 1;
				break;
			}
	}
	if (!f)
		return err_set(err, errlen, -EINVAL, "no finite point to plot");

	double t0 = INFINITY, t1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	for (size_t i = 0; i < d->n; i++) {
		double y = f[i] * ys, ee = e && isfinite(e[i]) ? e[i] * ys : 0;
		if (!isfinite(y) || !isfinite(d->mjd[i]))
			continue;
		t0 = fmin(t0, d->mjd[i]);
		t1 = fmax(t1, d->mjd[i]);
		y0 = fmin(y0, y - ee);
		y1 = fmax(y1, y + ee);
	}
	int base = has_range(d->base_mjd0, d->base_mjd1);
	int win = has_range(d->win_mjd0, d->win_mjd1);
	if (base) {
		t0 = fmin(t0, d->base_mjd0 - 0.5);
		t1 = fmax(t1, d->base_mjd1 + 0.5);
	}
	if (t1 - t0 < 1) {
		t0 -= 0.5;
		t1 += 0.5;
	}
	double pad = 0.03 * (t1 - t0);
	t0 -= pad;
	t1 += pad;
	if (y1 - y0 <= 0) {
		double dd = fabs(y0) > 0 ? 0.05 * fabs(y0) : 1;
		y0 -= dd;
		y1 += dd;
	}
	double ypad = 0.08 * (y1 - y0);
	y0 -= ypad;
	y1 += ypad;
	in.t0 = t0;
	in.t1 = t1;
	in.y0 = y0;
	in.y1 = y1;

	int r = plot_canvas_begin(&cv, PLOT_LC_WIDTH, PLOT_LC_HEIGHT, fmt, err, errlen);
	if (r < 0)
		return r;
	cairo_t *cr = cv.cr;
	plot_frame fr = { ML, MT, PLOT_LC_WIDTH - ML - MR, PLOT_LC_HEIGHT - MT - MB, t0, t1, y0,
			  y1 };
	plot_frame_clip(cr, &fr);
	if (base)
		shade(cr, &fr, d->base_mjd0 - 0.5, d->base_mjd1 + 0.5, 0.867, 0.910, 0.965,
		      "reference baseline");
	if (win)
		shade(cr, &fr, d->win_mjd0, d->win_mjd1, 0.984, 0.886, 0.867, "ESE window");
	cairo_restore(cr);

	static const double day_steps[] = { 1, 2, 5, 7, 14, 30, 61, 91, 182, 365, 730, 1826 };
	double tstep = day_steps[sizeof day_steps / sizeof day_steps[0] - 1];
	for (size_t i = 0; i < sizeof day_steps / sizeof day_steps[0]; i++)
		if ((t1 - t0) / day_steps[i] <= 7) {
			tstep = day_steps[i];
			break;
		}
	char ylabel[96];
	snprintf(ylabel, sizeof ylabel, in.raw ? "flux density (%s, not normalised)"
					       : "normalised flux density (%s)", unit);
	plot_frame_draw(cr, &fr, tstep, date_fmt, &in, 0, "date (UTC)", ylabel);
	char title[256];
	snprintf(title, sizeof title, "%s", d->title ? d->title : "light curve");
	cairo_set_source_rgb(cr, 0, 0, 0);
	plot_text(cr, PLOT_LC_WIDTH / 2.0, 14, 15, 0.5, 0, 0, 1, title);

	plot_frame_clip(cr, &fr);
	/* The model, clipped to the frame. */
	if (d->nmodel > 1 && d->model_mjd && d->model_flux) {
		int pen = 0;
		cairo_set_source_rgb(cr, 0.816, 0.251, 0.169);
		cairo_set_line_width(cr, 2);
		for (size_t k = 0; k < d->nmodel; k++) {
			double v = d->model_flux[k] * ys;
			if (!isfinite(v) || !isfinite(d->model_mjd[k])) {
				pen = 0;
				continue;
			}
			double x = plot_fx(&fr, d->model_mjd[k]), y = plot_fy(&fr, v);
			if (pen)
				cairo_line_to(cr, x, y);
			else
				cairo_move_to(cr, x, y);
			pen = 1;
		}
		cairo_stroke(cr);
	}
	/* Error bars, then the points over them: one filled path per point. */
	cairo_set_line_width(cr, 1);
	cairo_set_source_rgb(cr, 0.45, 0.52, 0.65);
	for (size_t i = 0; e && i < d->n; i++) {
		double y = f[i] * ys;
		if (!isfinite(y) || !isfinite(d->mjd[i]) || !isfinite(e[i]) || !(e[i] > 0))
			continue;
		double x = plot_fx(&fr, d->mjd[i]);
		cairo_move_to(cr, x, plot_fy(&fr, y + e[i] * ys));
		cairo_line_to(cr, x, plot_fy(&fr, y - e[i] * ys));
		cairo_stroke(cr);
	}
	cairo_set_source_rgb(cr, PLOT_LC_POINT_R / 255.0, PLOT_LC_POINT_G / 255.0,
			     PLOT_LC_POINT_B / 255.0);
	for (size_t i = 0; i < d->n; i++) {
		double y = f[i] * ys;
		if (!isfinite(y) || !isfinite(d->mjd[i]))
			continue;
		cairo_new_path(cr);
		if (d->bad && d->bad[i]) {
			/* A failed-quality epoch: shown, but an open red square. */
			cairo_save(cr);
			cairo_set_source_rgb(cr, 0.85, 0.1, 0.1);
			cairo_set_line_width(cr, 1.5);
			cairo_rectangle(cr, plot_fx(&fr, d->mjd[i]) - 3.5, plot_fy(&fr, y) - 3.5, 7, 7);
			cairo_stroke(cr);
			cairo_restore(cr);
			in.nbad++;
		} else {
			cairo_arc(cr, plot_fx(&fr, d->mjd[i]), plot_fy(&fr, y), 3, 0, 2 * M_PI);
			cairo_fill(cr);
		}
		in.npoints++;
	}
	cairo_restore(cr);
	if (d->nmodel > 1 && d->model_label) {
		cairo_set_source_rgb(cr, 0.816, 0.251, 0.169);
		plot_text(cr, fr.x0 + fr.w - 6, fr.y0 + 6, 12, 1, 0, 0, 0, d->model_label);
	}
	if (in.raw) {
		cairo_set_source_rgb(cr, 0.55, 0.35, 0.0);
		plot_text(cr, fr.x0 + 6, fr.y0 + fr.h - 6, 11, 0, 1, 0, 0,
			  "no normalised flux yet: raw measured fluxes shown");
	}
	r = plot_canvas_save_mem(&cv, ret_buf, ret_len, err, errlen);
	if (r == 0 && ret_info)
		*ret_info = in;
	return r;
}

int lcplot_write(const lcplot_data *d, const char *path, plot_format fmt, lcplot_info *ret_info,
		 char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = lcplot_render(d, fmt, &buf, &len, ret_info, err, errlen);
	if (r < 0) {
		char why[256];
		snprintf(why, sizeof why, "%s", err ? err : "failed");
		return err_set(err, errlen, r, "%s: %s", path, why);
	}
	r = plot_write_file(path, buf, len, err, errlen);
	free(buf);
	return r;
}
