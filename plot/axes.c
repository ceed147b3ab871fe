/*
 * plot/axes.c — canvas, text, frames, stretches, colour bar (plot/axes.h).
 */
#include "plot/axes.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>

#include "core/err.h"
#include "core/fsx.h"

plot_format plot_format_of(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	return n >= 4 && !strcasecmp(path + n - 4, ".svg") ? PLOT_SVG : PLOT_PNG;
}

/* cairo's write callback: append to the canvas's buffer. */
static cairo_status_t append(void *closure, const unsigned char *data, unsigned int length)
{
	plot_canvas *c = closure;
	if (c->len + length > c->cap) {
		size_t cap = c->cap ? c->cap : 65536;
		while (cap < c->len + length)
			cap *= 2;
		unsigned char *b = realloc(c->buf, cap);
		if (!b) {
			c->nomem = 1;
			return CAIRO_STATUS_WRITE_ERROR;
		}
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, length);
	c->len += length;
	return CAIRO_STATUS_SUCCESS;
}

int plot_canvas_begin(plot_canvas *c, int width, int height, plot_format fmt, char *err,
		      size_t errlen)
{
	memset(c, 0, sizeof *c);
	if (width < 1 || height < 1 || width > 32767 || height > 32767)
		return err_set(err, errlen, -EINVAL, "bad canvas size %d x %d", width, height);
	c->width = width;
	c->height = height;
	c->fmt = fmt;
	if (fmt == PLOT_SVG) {
		c->surf = cairo_svg_surface_create_for_stream(append, c, width, height);
		/* Pixels in the document, not points, so the SVG and the PNG of the
		 * same code have the same size in a browser. */
		if (cairo_surface_status(c->surf) == CAIRO_STATUS_SUCCESS)
			cairo_svg_surface_set_document_unit(c->surf, CAIRO_SVG_UNIT_PX);
	} else {
		c->surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
	}
	if (cairo_surface_status(c->surf) != CAIRO_STATUS_SUCCESS) {
		plot_canvas_release(c);
		return err_set(err, errlen, -ENOMEM, "cannot create a %d x %d canvas", width,
			       height);
	}
	c->cr = cairo_create(c->surf);
	if (cairo_status(c->cr) != CAIRO_STATUS_SUCCESS) {
		plot_canvas_release(c);
		return err_set(err, errlen, -ENOMEM, "cannot create a cairo context");
	}
	cairo_set_source_rgb(c->cr, 1, 1, 1);
	cairo_paint(c->cr);
	cairo_select_font_face(c->cr, PLOT_FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	return 0;
}

void plot_canvas_release(plot_canvas *c)
{
	if (c->cr)
		cairo_destroy(c->cr);
	if (c->surf)
		cairo_surface_destroy(c->surf);
	free(c->buf);
	memset(c, 0, sizeof *c);
}

int plot_canvas_save_mem(plot_canvas *c, unsigned char **ret_buf, size_t *ret_len, char *err,
			 size_t errlen)
{
	int r = 0;
	cairo_status_t st = cairo_status(c->cr);
	if (st != CAIRO_STATUS_SUCCESS) {
		r = err_set(err, errlen, -EIO, "drawing failed: %s", cairo_status_to_string(st));
		goto out;
	}
	cairo_destroy(c->cr);
	c->cr = NULL;
	if (c->fmt == PLOT_SVG) {
		cairo_surface_finish(c->surf);
		st = cairo_surface_status(c->surf);
	} else {
		cairo_surface_flush(c->surf);
		st = cairo_surface_write_to_png_stream(c->surf, append, c);
	}
	if (c->nomem) {
		r = err_set(err, errlen, -ENOMEM, "out of memory encoding the picture");
		goto out;
	}
	if (st != CAIRO_STATUS_SUCCESS || !c->len) {
		r = err_set(err, errlen, -EIO, "encoding failed: %s", cairo_status_to_string(st));
		goto out;
	}
	*ret_buf = c->buf;
	*ret_len = c->len;
	c->buf = NULL;
out:
	plot_canvas_release(c);
	return r;
}

int plot_write_file(const char *path, const unsigned char *buf, size_t len, char *err,
		    size_t errlen)
{
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return err_set(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return err_set(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	int r = fwrite(buf, 1, len, f) == len ? 0 : -EIO;
	if (fclose(f) && !r)
		r = -EIO;
	if (r) {
		remove(tmp);
		return err_set(err, errlen, r, "%s: write failed", path);
	}
	return fsx_replace(tmp, path, err, errlen); /* durable; tmp goes on failure */
}

int plot_canvas_save(plot_canvas *c, const char *path, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = plot_canvas_save_mem(c, &buf, &len, err, errlen);
	if (r == 0)
		r = plot_write_file(path, buf, len, err, errlen);
	free(buf);
	return r;
}

/* ---- text ---- */

void plot_text(cairo_t *cr, double x, double y, double size, double ha, double va,
	       double angle_deg, int bold, const char *s)
{
	cairo_text_extents_t e;
	if (!s || !*s)
		return;
	cairo_save(cr);
	cairo_select_font_face(cr, PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
	cairo_text_extents(cr, s, &e);
	cairo_translate(cr, x, y);
	if (angle_deg != 0)
		cairo_rotate(cr, -angle_deg * M_PI / 180.0);
	/* Vertical anchoring on the font's digit height rather than the ink, so
	 * that labels of one axis share a baseline whatever their letters. */
	double cap = 0.72 * size;
	cairo_move_to(cr, -e.x_bearing - ha * e.width, cap * (1 - va));
	cairo_show_text(cr, s);
	cairo_restore(cr);
}

/* ---- frames ---- */

double plot_nice_step(double span, int want)
{
	if (!(span > 0) || want < 1)
		return 1;
	double raw = span / want, p = pow(10, floor(log10(raw))), m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void fmt_g(double v, char *buf, size_t len, double step)
{
	if (fabs(v) < 1e-9 * step)
		v = 0;
	snprintf(buf, len, "%g", v);
}

void plot_frame_draw(cairo_t *cr, const plot_frame *f, double xstep, plot_tick_fmt xfmt,
		     void *xarg, double ystep, const char *xlabel, const char *ylabel)
{
	char lab[64];
	const double fs = 12;
	cairo_save(cr);
	cairo_set_line_width(cr, 1);
	if (xstep == 0)
		xstep = plot_nice_step(f->xmax - f->xmin, 6);
	if (ystep == 0)
		ystep = plot_nice_step(f->ymax - f->ymin, 6);
	if (xstep > 0) {
		for (double v = ceil(f->xmin / xstep) * xstep; v <= f->xmax + 1e-9 * xstep;
		     v += xstep) {
			double x = floor(plot_fx(f, v)) + 0.5;
			cairo_set_source_rgb(cr, 0.89, 0.89, 0.89);
			cairo_move_to(cr, x, f->y0);
			cairo_line_to(cr, x, f->y0 + f->h);
			cairo_stroke(cr);
			cairo_set_source_rgb(cr, 0, 0, 0);
			cairo_move_to(cr, x, f->y0 + f->h);
			cairo_line_to(cr, x, f->y0 + f->h + 4);
			cairo_stroke(cr);
			if (xfmt)
				xfmt(v, lab, sizeof lab, xarg);
			else
				fmt_g(v, lab, sizeof lab, xstep);
			plot_text(cr, x, f->y0 + f->h + 7, fs, 0.5, 0, 0, 0, lab);
		}
	}
	if (ystep > 0) {
		for (double v = ceil(f->ymin / ystep) * ystep; v <= f->ymax + 1e-9 * ystep;
		     v += ystep) {
			double y = floor(plot_fy(f, v)) + 0.5;
			cairo_set_source_rgb(cr, 0.89, 0.89, 0.89);
			cairo_move_to(cr, f->x0, y);
			cairo_line_to(cr, f->x0 + f->w, y);
			cairo_stroke(cr);
			cairo_set_source_rgb(cr, 0, 0, 0);
			cairo_move_to(cr, f->x0 - 4, y);
			cairo_line_to(cr, f->x0, y);
			cairo_stroke(cr);
			fmt_g(v, lab, sizeof lab, ystep);
			plot_text(cr, f->x0 - 7, y, fs, 1, 0.5, 0, 0, lab);
		}
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_rectangle(cr, floor(f->x0) + 0.5, floor(f->y0) + 0.5, floor(f->w), floor(f->h));
	cairo_stroke(cr);
	if (xlabel)
		plot_text(cr, f->x0 + f->w / 2, f->y0 + f->h + 26, fs, 0.5, 0, 0, 0, xlabel);
	if (ylabel)
		plot_text(cr, f->x0 - 52, f->y0 + f->h / 2, fs, 0.5, 1, 90, 0, ylabel);
	cairo_restore(cr);
}

void plot_frame_clip(cairo_t *cr, const plot_frame *f)
{
	cairo_save(cr);
	cairo_rectangle(cr, f->x0, f->y0, f->w, f->h);
	cairo_clip(cr);
}

/* ---- intensities ---- */

double plot_stretch_apply(const plot_stretch *s, double v)
{
	if (isnan(v))
		return v;
	double u = (v - s->vmin) / (s->vmax - s->vmin);
	u = u < 0 ? 0 : u > 1 ? 1 : u;
	if (s->kind == PLOT_STRETCH_ASINH) {
		double a = s->asinh_a > 0 ? s->asinh_a : 0.1;
		return asinh(u / a) / asinh(1 / a);
	}
	return u;
}

double plot_stretch_invert(const plot_stretch *s, double t)
{
	double u = t;
	if (s->kind == PLOT_STRETCH_ASINH) {
		double a = s->asinh_a > 0 ? s->asinh_a : 0.1;
		u = a * sinh(t * asinh(1 / a));
	}
	return s->vmin + u * (s->vmax - s->vmin);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Weighted least squares of y = a + b x over the points with good[i]. */
static int fit_line(const float *y, const unsigned char *bad, size_t n, double *a, double *b)
{
	double s = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
	for (size_t i = 0; i < n; i++) {
		if (bad[i])
			continue;
		double x = (double)i;
		s += 1;
		sx += x;
		sy += y[i];
		sxx += x * x;
		sxy += x * y[i];
	}
	double d = s * sxx - sx * sx;
	if (s < 2 || d == 0)
		return -1;
	*b = (s * sxy - sx * sy) / d;
	*a = (sy - *b * sx) / s;
	return 0;
}

/* IRAF zscale (the `display` task), as astropy's ZScaleInterval (a port of
 * STScI numdisplay's) defines the constants: nsamples 1000, contrast 0.25,
 * max_reject 0.5, min_npixels 5, krej 2.5, max_iterations 5. */
int plot_zscale(const float *data, size_t n, double *ret_vmin, double *ret_vmax)
{
	enum { NSAMPLES = 1000, MIN_NPIX = 5, MAX_ITER = 5 };
	const double contrast = 0.25, krej = 2.5, max_reject = 0.5;
	size_t nfin = 0;
	for (size_t i = 0; i < n; i++)
		nfin += isfinite(data[i]) != 0;
	if (!nfin)
		return -EINVAL;
	size_t stride = nfin / NSAMPLES > 1 ? nfin / NSAMPLES : 1;
	float samples[NSAMPLES];
	unsigned char bad[NSAMPLES], grown[NSAMPLES];
	size_t ns = 0, k = 0;
	for (size_t i = 0; i < n && ns < NSAMPLES; i++) {
		if (!isfinite(data[i]))
			continue;
		if (k++ % stride == 0)
			samples[ns++] = data[i];
	}
	qsort(samples, ns, sizeof samples[0], cmp_float);
	double vmin = samples[0], vmax = samples[ns - 1];
	size_t minpix = (size_t)(ns * max_reject);
	if (minpix < MIN_NPIX)
		minpix = MIN_NPIX;
	size_t ngrow = (size_t)(ns * 0.01);
	if (ngrow < 1)
		ngrow = 1;
	memset(bad, 0, ns);
	size_t ngood = ns, last = ns + 1;
	double a = 0, b = 0;
	int fitted = 0;
	for (int it = 0; it < MAX_ITER; it++) {
		if (ngood >= last || ngood < minpix)
			break;
		if (fit_line(samples, bad, ns, &a, &b))
			break;
		fitted = 1;
		double s = 0, s2 = 0, m = 0;
		for (size_t i = 0; i < ns; i++)
			if (!bad[i]) {
				double r = samples[i] - (a + b * i);
				s += r;
				s2 += r * r;
				m += 1;
			}
		double mean = s / m, sd = sqrt(fmax(s2 / m - mean * mean, 0));
		double thr = krej * sd;
		for (size_t i = 0; i < ns; i++) {
			double r = samples[i] - (a + b * i);
			if (r < -thr || r > thr)
				bad[i] = 1;
		}
		/* Grow the rejected points by ngrow (numpy's convolve(..., 'same')
		 * with a box of ngrow ones: the window [i - (ngrow-1)/2 ...]). */
		memset(grown, 0, ns);
		long lo = -(long)((ngrow - 1) / 2), hi = lo + (long)ngrow - 1;
		for (size_t i = 0; i < ns; i++) {
			if (!bad[i])
				continue;
			for (long d = -hi; d <= -lo; d++) {
				long j = (long)i + d;
				if (j >= 0 && j < (long)ns)
					grown[j] = 1;
			}
		}
		memcpy(bad, grown, ns);
		last = ngood;
		ngood = 0;
		for (size_t i = 0; i < ns; i++)
			ngood += !bad[i];
	}
	if (fitted && ngood >= minpix) {
		double slope = b / contrast;
		size_t centre = (ns - 1) / 2;
		double median = ns % 2 ? samples[ns / 2]
				       : 0.5 * ((double)samples[ns / 2 - 1] + samples[ns / 2]);
		vmin = fmax(vmin, median - ((double)centre - 1) * slope);
		vmax = fmin(vmax, median + (double)(ns - centre) * slope);
	}
	*ret_vmin = vmin;
	*ret_vmax = vmax;
	return 0;
}

void plot_grey(double t, double rgb[3])
{
	if (isnan(t)) {
		rgb[0] = 0.80;
		rgb[1] = 0.84;
		rgb[2] = 0.90;
		return;
	}
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	rgb[0] = rgb[1] = rgb[2] = t;
}

void plot_colorbar(cairo_t *cr, double x, double y, double w, double h, const plot_stretch *s,
		   double scale, const char *label)
{
	double rgb[3];
	char lab[64];
	cairo_save(cr);
	for (int k = 0; k < (int)h; k++) {
		plot_grey(((double)k + 0.5) / h, rgb);
		cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
		cairo_rectangle(cr, x, y + h - k - 1, w, 1);
		cairo_fill(cr);
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_set_line_width(cr, 1);
	cairo_rectangle(cr, floor(x) + 0.5, floor(y) + 0.5, floor(w), floor(h));
	cairo_stroke(cr);
	/* Ticks at nice values of the data, placed through the stretch (so an
	 * asinh bar has its ticks crowded at the top, as the picture is). */
	double lo = s->vmin * scale, hi = s->vmax * scale;
	double step = plot_nice_step(hi - lo, 5);
	for (double v = ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) {
		double t = plot_stretch_apply(s, v / scale);
		double yy = floor(y + h - t * h) + 0.5;
		cairo_move_to(cr, x + w, yy);
		cairo_line_to(cr, x + w + 4, yy);
		cairo_stroke(cr);
		fmt_g(v, lab, sizeof lab, step);
		plot_text(cr, x + w + 6, yy, 11, 0, 0.5, 0, 0, lab);
	}
	if (label)
		plot_text(cr, x + w + 52, y + h / 2, 12, 0.5, 1, 90, 0, label);
	cairo_restore(cr);
}

void plot_release_statics(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}

void plot_series_colour(int k, int n, double rgb[3])
{
	/* Hue around the wheel at full saturation, value 0.8 (readable on white);
	 * HSV → RGB. */
	double hdeg = n > 0 ? 300.0 * k / (n > 1 ? n - 1 : 1) : 0, v = 0.8, sat = 0.9;
	double c = v * sat, hp = hdeg / 60.0, xx = c * (1 - fabs(fmod(hp, 2) - 1));
	double r = 0, g = 0, b = 0;
	if (hp < 1) r = c, g = xx;
	else if (hp < 2) r = xx, g = c;
	else if (hp < 3) g = c, b = xx;
	else if (hp < 4) g = xx, b = c;
	else if (hp < 5) r = xx, b = c;
	else r = c, b = xx;
	rgb[0] = r + v - c;
	rgb[1] = g + v - c;
	rgb[2] = b + v - c;
}
