/*
 * plot/stamp.c — postage stamps (plot/stamp.h).
 */
#include "plot/stamp.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "plot/fitsimg.h"
#include "plot/qlook.h"

#define GAP 12    /* between stamps and at the sides */
#define TOP 34    /* title */
#define BOT 30    /* labels */
#define CB 96     /* colour bar and its labels */

int plot_stamp_cut(const char *fits_path, double ra_deg, double dec_deg, double size_deg,
		   int npix, plot_stamp *ret, char *err, size_t errlen)
{
	plot_fits h;
	plot_stamp s;
	double x, y;
	int r = plot_fits_read(fits_path, 0, &h, err, errlen);
	if (r < 0)
		return r;
	memset(&s, 0, sizeof s);
	s.cell_deg = plot_fits_cell_deg(&h);
	if (npix <= 0) {
		if (!(size_deg > 0) || !(s.cell_deg > 0)) {
			r = err_set(err, errlen, -EINVAL, "%s: bad stamp size %g deg", fits_path,
				    size_deg);
			goto out;
		}
		double n = ceil(size_deg / s.cell_deg);
		if (n > PLOT_STAMP_MAX) {
			r = err_set(err, errlen, -EINVAL,
				    "%s: a %g deg stamp is %.0f pixels (at most %d)", fits_path,
				    size_deg, n, PLOT_STAMP_MAX);
			goto out;
		}
		npix = (int)n;
	}
	if (npix % 2 == 0)
		npix++;
	if (npix > PLOT_STAMP_MAX) {
		r = err_set(err, errlen, -EINVAL, "%s: stamps are at most %d pixels", fits_path,
			    PLOT_STAMP_MAX);
		goto out;
	}
	if (plot_fits_world_to_pix(&h, ra_deg, dec_deg, &x, &y)) {
		r = err_set(err, errlen, -EINVAL, "%s: RA %.6f Dec %.6f has no pixel", fits_path,
			    ra_deg, dec_deg);
		goto out;
	}
	if (x < -0.5 || x > h.nx - 0.5 || y < -0.5 || y > h.ny - 0.5) {
		r = err_set(err, errlen, -ERANGE, "%s: RA %.6f Dec %.6f is outside the image",
			    fits_path, ra_deg, dec_deg);
		goto out;
	}
	int cx = (int)lround(x), cy = (int)lround(y);
	s.n = npix;
	s.x0 = cx - npix / 2;
	s.y0 = cy - npix / 2;
	s.tx = x - s.x0;
	s.ty = y - s.y0;
	snprintf(s.bunit, sizeof s.bunit, "%s", h.bunit);
	snprintf(s.date_obs, sizeof s.date_obs, "%s", h.date_obs);
	s.mjd_obs = h.mjd_obs;
	s.data = malloc((size_t)npix * npix * sizeof *s.data);
	if (!s.data) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	r = plot_fits_read_box(fits_path, s.x0, s.y0, npix, npix, s.data, err, errlen);
out:
	plot_fits_release(&h);
	if (r < 0)
		plot_stamp_release(&s);
	else
		*ret = s;
	return r;
}

void plot_stamp_release(plot_stamp *s)
{
	free(s->data);
	memset(s, 0, sizeof *s);
}

int plot_stamp_render(const plot_stamp *st, size_t n, const char *const *labels,
		      const char *title, plot_format fmt, unsigned char **ret_buf,
		      size_t *ret_len, char *err, size_t errlen)
{
	plot_canvas cv;
	float *pool = NULL;
	int r = 0;
	const int S = PLOT_STAMP_PX;

	if (n == 0)
		return err_set(err, errlen, -EINVAL, "no stamp to draw");
	/* One scale for all: zscale of the stamps together. */
	size_t tot = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		tot += (size_t)st[i].n * st[i].n;
	pool = malloc(tot * sizeof *pool);
	if (!pool)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		memcpy(pool + k, st[i].data, (size_t)st[i].n * st[i].n * sizeof *pool);
		k += (size_t)st[i].n * st[i].n;
	}
	plot_stretch sc = { PLOT_STRETCH_LINEAR, 0, 1, 0 };
	if (plot_zscale(pool, tot, &sc.vmin, &sc.vmax) == 0 && !(sc.vmax > sc.vmin)) {
		double d = fabs(sc.vmin) > 0 ? 0.01 * fabs(sc.vmin) : 1;
		sc.vmin -= d;
		sc.vmax += d;
	}
	free(pool);
	int width = GAP + (int)n * (S + GAP) + CB, height = TOP + S + BOT;
	if ((r = plot_canvas_begin(&cv, width, height, fmt, err, errlen)) < 0)
		return r;
	cairo_t *cr = cv.cr;
	for (size_t i = 0; i < n; i++) {
		const plot_stamp *s = &st[i];
		double x0 = GAP + (double)i * (S + GAP), y0 = TOP;
		cairo_surface_t *pic = cairo_image_surface_create(CAIRO_FORMAT_RGB24, s->n, s->n);
		if (cairo_surface_status(pic) != CAIRO_STATUS_SUCCESS) {
			cairo_surface_destroy(pic);
			plot_canvas_release(&cv);
			return err_set(err, errlen, -ENOMEM, "out of memory");
		}
		cairo_surface_flush(pic);
		unsigned char *px = cairo_image_surface_get_data(pic);
		int stride = cairo_image_surface_get_stride(pic);
		for (int y = 0; y < s->n; y++) {
			uint32_t *row = (uint32_t *)(px + (size_t)(s->n - 1 - y) * stride);
			for (int x = 0; x < s->n; x++) {
				double rgb[3];
				plot_grey(plot_stretch_apply(&sc, s->data[(size_t)y * s->n + x]), rgb);
				row[x] = (uint32_t)lround(rgb[0] * 255) << 16 |
					 (uint32_t)lround(rgb[1] * 255) << 8 |
					 (uint32_t)lround(rgb[2] * 255);
			}
		}
		cairo_surface_mark_dirty(pic);
		double z = (double)S / s->n;
		cairo_save(cr);
		cairo_translate(cr, x0, y0);
		cairo_scale(cr, z, z);
		cairo_set_source_surface(cr, pic, 0, 0);
		cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
		cairo_rectangle(cr, 0, 0, s->n, s->n);
		cairo_fill(cr);
		cairo_restore(cr);
		cairo_surface_destroy(pic);
		/* Cross-hair: four ticks around the target, leaving it visible. */
		double tx = x0 + (s->tx + 0.5) * z, ty = y0 + S - (s->ty + 0.5) * z;
		double g = 0.06 * S, l = 0.12 * S;
		cairo_set_source_rgb(cr, 0.9, 0.15, 0.1);
		cairo_set_line_width(cr, 1.5);
		cairo_move_to(cr, tx - g - l, ty);
		cairo_line_to(cr, tx - g, ty);
		cairo_move_to(cr, tx + g, ty);
		cairo_line_to(cr, tx + g + l, ty);
		cairo_move_to(cr, tx, ty - g - l);
		cairo_line_to(cr, tx, ty - g);
		cairo_move_to(cr, tx, ty + g);
		cairo_line_to(cr, tx, ty + g + l);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		cairo_set_line_width(cr, 1);
		cairo_rectangle(cr, x0 - 0.5, y0 - 0.5, S + 1, S + 1);
		cairo_stroke(cr);
		const char *lab = labels && labels[i] ? labels[i] : s->date_obs;
		plot_text(cr, x0 + S / 2.0, y0 + S + 8, 11, 0.5, 0, 0, 0, lab);
	}
	char unit[40];
	snprintf(unit, sizeof unit, "%s", !st[0].bunit[0] ? "intensity"
					  : !strcasecmp(st[0].bunit, "JY/BEAM") ? "Jy/beam"
										: st[0].bunit);
	plot_colorbar(cr, GAP + (double)n * (S + GAP), TOP, 14, S, &sc, 1, unit);
	if (title) {
		cairo_set_source_rgb(cr, 0, 0, 0);
		plot_text(cr, GAP, 10, 12, 0, 0, 0, 1, title);
	}
	return plot_canvas_save_mem(&cv, ret_buf, ret_len, err, errlen);
}

static void stamp_title(double ra, double dec, double size_deg, int n, double cell, char *buf,
			size_t len)
{
	char a[24], b[24];
	plot_format_ra(ra, 1, a, sizeof a);
	plot_format_dec(dec, 1, b, sizeof b);
	(void)size_deg;
	snprintf(buf, len, "%s %s  (%.1f')", a, b, n * cell * 60);
}

int plot_stamp_png_mem(const char *fits_path, double ra_deg, double dec_deg, double size_deg,
		       unsigned char **png, size_t *len, char *err, size_t errlen)
{
	plot_stamp s;
	char title[96];
	int r = plot_stamp_cut(fits_path, ra_deg, dec_deg, size_deg, 0, &s, err, errlen);
	if (r < 0)
		return r;
	stamp_title(ra_deg, dec_deg, size_deg, s.n, s.cell_deg, title, sizeof title);
	r = plot_stamp_render(&s, 1, NULL, title, PLOT_PNG, png, len, err, errlen);
	plot_stamp_release(&s);
	return r;
}

int plot_stamp_strip_write(const char *const *fits_paths, const char *const *labels, size_t n,
			   double ra_deg, double dec_deg, double size_deg, const char *out_path,
			   size_t *ret_used, char *err, size_t errlen)
{
	plot_stamp *st = calloc(n ? n : 1, sizeof *st);
	const char **lab = calloc(n ? n : 1, sizeof *lab);
	unsigned char *buf = NULL;
	size_t used = 0, len = 0;
	int r = 0;
	char title[96];

	if (!st || !lab) {
		r = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char e[256];
		int q = plot_stamp_cut(fits_paths[i], ra_deg, dec_deg, size_deg, 0, &st[used], e,
				       sizeof e);
		if (q == -ERANGE || q == -ENOENT)
			continue; /* not in this image (or the file is gone): leave it out */
		if (q < 0) {
			r = err_set(err, errlen, q, "%s", e);
			goto out;
		}
		lab[used] = labels ? labels[i] : NULL;
		used++;
	}
	if (!used) {
		r = err_set(err, errlen, -ERANGE, "no image contains RA %.6f Dec %.6f", ra_deg,
			    dec_deg);
		goto out;
	}
	stamp_title(ra_deg, dec_deg, size_deg, st[0].n, st[0].cell_deg, title, sizeof title);
	r = plot_stamp_render(st, used, lab, title, plot_format_of(out_path), &buf, &len, err,
			      errlen);
	if (r == 0)
		r = plot_write_file(out_path, buf, len, err, errlen);
	if (r == 0 && ret_used)
		*ret_used = used;
out:
	for (size_t i = 0; st && i < used; i++)
		plot_stamp_release(&st[i]);
	free(st);
	free(lab);
	free(buf);
	return r;
}
