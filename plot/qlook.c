/*
 * plot/qlook.c — quick-look pictures of images (plot/qlook.h).
 */
#include "plot/qlook.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

#define ML 86   /* margins: left (Dec labels), top (title), bottom (RA labels) */
#define MT 36
#define MB 56
#define CB_GAP 22 /* image → colour bar */
#define CB_W 18
#define CB_R 84  /* right of the colour bar: tick labels and its title */
#define MAX_LABELLED 30

void plot_format_ra(double ra_deg, double step_s, char *buf, size_t len)
{
	double ra = fmod(ra_deg, 360.0);
	if (ra < 0)
		ra += 360;
	long s = lround(ra / 15.0 * 3600.0) % 86400; /* seconds of time */
	int h = (int)(s / 3600), m = (int)(s / 60 % 60), sec = (int)(s % 60);
	if (step_s >= 60 && fmod(step_s, 60) == 0 && sec == 0)
		snprintf(buf, len, "%02dh%02dm", h, m);
	else
		snprintf(buf, len, "%02dh%02dm%02ds", h, m, sec);
}

void plot_format_dec(double dec_deg, double step_arcsec, char *buf, size_t len)
{
	long s = lround(fabs(dec_deg) * 3600.0);
	int d = (int)(s / 3600), m = (int)(s / 60 % 60), sec = (int)(s % 60);
	char sign = dec_deg < 0 && s ? '-' : '+';
	if (step_arcsec >= 60 && fmod(step_arcsec, 60) == 0 && sec == 0)
		snprintf(buf, len, "%c%02d\xc2\xb0%02d'", sign, d, m);
	else
		snprintf(buf, len, "%c%02d\xc2\xb0%02d'%02d\"", sign, d, m, sec);
}

void plot_qlook_pix_to_canvas(const plot_qlook_info *in, double x, double y, double *ret_cx,
			      double *ret_cy)
{
	*ret_cx = in->img_x0 + (x + 0.5) / in->factor;
	*ret_cy = in->img_y0 + in->nyd - (y + 0.5) / in->factor;
}

/* Block average (NaN-aware) by f: out[nyd][nxd]. */
static void downsample(const float *in, int nx, int ny, int f, float *out, int nxd, int nyd)
{
	for (int j = 0; j < nyd; j++)
		for (int i = 0; i < nxd; i++) {
			double s = 0;
			int n = 0;
			for (int y = j * f; y < (j + 1) * f && y < ny; y++)
				for (int x = i * f; x < (i + 1) * f && x < nx; x++) {
					float v = in[(size_t)y * nx + x];
					if (isfinite(v)) {
						s += v;
						n++;
					}
				}
			out[(size_t)j * nxd + i] = n ? (float)(s / n) : NAN;
		}
}

static double wrap180(double a)
{
	a = fmod(a + 180.0, 360.0);
	if (a < 0)
		a += 360;
	return a - 180.0;
}

static double norm360(double a)
{
	a = fmod(a, 360.0);
	return a < 0 ? a + 360 : a;
}

/* The smallest step of steps[] (n of them) giving at most `want` intervals
 * over span. */
static double pick_step(const double *steps, int n, double span, int want)
{
	for (int k = 0; k < n; k++)
		if (span / steps[k] <= want)
			return steps[k];
	return steps[n - 1];
}

typedef struct gridctx {
	const plot_fits *img;
	plot_qlook_info *in;
	cairo_t *cr;
} gridctx;

/* Trace the line (ra fixed, dec varying when is_ra; else dec fixed) over
 * [a, b] in 200 steps: draw it (already clipped by the caller) and record
 * where it crosses the bottom (RA) or left (Dec) edge. */
static void trace_line(gridctx *g, int is_ra, double fixed, double a, double b, double step,
		       double step_unit)
{
	const int N = 200;
	double px = NAN, py = NAN;
	int pen = 0;
	plot_qlook_info *in = g->in;
	for (int k = 0; k <= N; k++) {
		double v = a + (b - a) * k / N, x, y;
		double ra = is_ra ? fixed : v, dec = is_ra ? v : fixed;
		if (dec > 90 || dec < -90 ||
		    plot_fits_world_to_pix(g->img, norm360(ra), dec, &x, &y)) {
			pen = 0;
			px = NAN;
			continue;
		}
		double cx, cy;
		plot_qlook_pix_to_canvas(in, x, y, &cx, &cy);
		/* A jump of more than half the picture is a wrap, not a line. */
		if (pen && isfinite(px) && (fabs(x - px) > g->img->nx / 2.0 ||
					    fabs(y - py) > g->img->ny / 2.0))
			pen = 0;
		if (pen)
			cairo_line_to(g->cr, cx, cy);
		else
			cairo_move_to(g->cr, cx, cy);
		/* The edge crossing: bottom edge y = -0.5 for meridians, left edge
		 * x = -0.5 for parallels, inside the other axis's range. */
		if (pen && isfinite(px)) {
			double e = -0.5, p0 = is_ra ? py : px, p1 = is_ra ? y : x;
			if ((p0 - e) * (p1 - e) <= 0 && p0 != p1) {
				double t = (e - p0) / (p1 - p0);
				double ex = is_ra ? px + t * (x - px) : e;
				double ey = is_ra ? e : py + t * (y - py);
				int nmax = is_ra ? g->img->nx : g->img->ny;
				double other = is_ra ? ex : ey;
				int *cnt = is_ra ? &in->nra : &in->ndec;
				if (other >= -0.5 && other <= nmax - 0.5 && *cnt < PLOT_MAX_TICKS) {
					plot_tick *tk = is_ra ? &in->ra[*cnt] : &in->dec[*cnt];
					tk->world_deg = is_ra ? norm360(fixed) : fixed;
					tk->x = ex;
					tk->y = ey;
					plot_qlook_pix_to_canvas(in, ex, ey, &tk->cx, &tk->cy);
					if (is_ra)
						plot_format_ra(fixed, step / step_unit, tk->label,
							       sizeof tk->label);
					else
						plot_format_dec(fixed, step / step_unit, tk->label,
								sizeof tk->label);
					(*cnt)++;
				}
			}
		}
		pen = 1;
		px = x;
		py = y;
	}
}

/* The RA/Dec grid and its labels. */
static void draw_grid(cairo_t *cr, const plot_fits *img, plot_qlook_info *in)
{
	static const double ra_steps_s[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200,
					     1800, 3600, 7200, 10800 };
	static const double dec_steps_as[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
					       1200, 1800, 3600, 7200, 18000, 36000 };
	double ra_c, dec_c;
	if (plot_fits_pix_to_world(img, (img->nx - 1) / 2.0, (img->ny - 1) / 2.0, &ra_c, &dec_c))
		return;
	/* The world range: a 17 × 17 lattice over the image, RA unwrapped about
	 * the centre; a pole inside the picture opens RA to all 360°. */
	double rlo = 0, rhi = 0, dlo = dec_c, dhi = dec_c;
	for (int j = 0; j <= 16; j++)
		for (int i = 0; i <= 16; i++) {
			double r, d;
			if (plot_fits_pix_to_world(img, -0.5 + img->nx * i / 16.0,
						   -0.5 + img->ny * j / 16.0, &r, &d))
				continue;
			double dr = wrap180(r - ra_c);
			rlo = fmin(rlo, dr);
			rhi = fmax(rhi, dr);
			dlo = fmin(dlo, d);
			dhi = fmax(dhi, d);
		}
	for (int s = -1; s <= 1; s += 2) {
		double x, y;
		if (!plot_fits_world_to_pix(img, 0, 90.0 * s, &x, &y) && x >= -0.5 &&
		    x <= img->nx - 0.5 && y >= -0.5 && y <= img->ny - 0.5) {
			rlo = -180;
			rhi = 180;
			if (s > 0)
				dhi = 90;
			else
				dlo = -90;
		}
	}
	double rstep = pick_step(ra_steps_s, sizeof ra_steps_s / sizeof ra_steps_s[0],
				 (rhi - rlo) * 240.0, 5) / 240.0;
	double dstep = pick_step(dec_steps_as, sizeof dec_steps_as / sizeof dec_steps_as[0],
				 (dhi - dlo) * 3600.0, 5) / 3600.0;
	gridctx g = { img, in, cr };
	cairo_save(cr);
	cairo_rectangle(cr, in->img_x0, in->img_y0, in->nxd, in->nyd);
	cairo_clip(cr);
	cairo_set_source_rgba(cr, 0.35, 0.65, 1.0, 0.75);
	cairo_set_line_width(cr, 1);
	double dpad = 0.1 * (dhi - dlo) + dstep;
	/* Meridians at multiples of the step in absolute RA. */
	double r0 = ceil((ra_c + rlo) / rstep) * rstep;
	for (double r = r0; r <= ra_c + rhi + 1e-9 && in->nra < PLOT_MAX_TICKS; r += rstep) {
		trace_line(&g, 1, r, fmax(dlo - dpad, -90), fmin(dhi + dpad, 90), rstep * 240.0,
			   1.0);
		cairo_stroke(cr);
	}
	double rpad = 0.1 * (rhi - rlo) + rstep;
	double d0 = ceil(dlo / dstep) * dstep;
	for (double d = d0; d <= dhi + 1e-9 && in->ndec < PLOT_MAX_TICKS; d += dstep) {
		trace_line(&g, 0, fabs(d) < 1e-12 ? 0 : d, ra_c + rlo - rpad, ra_c + rhi + rpad,
			   dstep * 3600.0, 1.0);
		cairo_stroke(cr);
	}
	cairo_restore(cr);
	/* Labels outside the image: RA under the bottom edge, Dec left of the
	 * left edge; a label too close to the previous one is left out. */
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_set_line_width(cr, 1);
	double last = -1e9;
	for (int k = 0; k < in->nra; k++) {
		const plot_tick *t = &in->ra[k];
		cairo_move_to(cr, t->cx, in->img_y0 + in->nyd);
		cairo_line_to(cr, t->cx, in->img_y0 + in->nyd + 5);
		cairo_stroke(cr);
		if (fabs(t->cx - last) < 70)
			continue;
		plot_text(cr, t->cx, in->img_y0 + in->nyd + 8, 11, 0.5, 0, 0, 0, t->label);
		last = t->cx;
	}
	last = -1e9;
	for (int k = 0; k < in->ndec; k++) {
		const plot_tick *t = &in->dec[k];
		cairo_move_to(cr, in->img_x0 - 5, t->cy);
		cairo_line_to(cr, in->img_x0, t->cy);
		cairo_stroke(cr);
		if (fabs(t->cy - last) < 16)
			continue;
		plot_text(cr, in->img_x0 - 8, t->cy, 11, 1, 0.5, 0, 0, t->label);
		last = t->cy;
	}
	plot_text(cr, in->img_x0 + in->nxd / 2.0, in->img_y0 + in->nyd + 30, 12, 0.5, 0, 0, 0,
		  "Right Ascension (ICRS)");
	plot_text(cr, in->img_x0 - 72, in->img_y0 + in->nyd / 2.0, 12, 0.5, 1, 90, 0,
		  "Declination (ICRS)");
}

/* The restoring beam, filled, in a white box at the bottom-left corner. */
static void draw_beam(cairo_t *cr, const plot_fits *img, const plot_qlook_info *in)
{
	if (!(img->bmaj_deg > 0) || !(img->bmin_deg > 0))
		return;
	double cell = plot_fits_cell_deg(img);
	if (!(cell > 0))
		return;
	double a = 0.5 * img->bmaj_deg / cell / in->factor; /* semi-axes, picture px */
	double b = 0.5 * img->bmin_deg / cell / in->factor;
	double pa = isfinite(img->bpa_deg) ? img->bpa_deg * M_PI / 180 : 0;
	double box = fmax(2 * a + 8, 14);
	if (box > in->nxd / 3.0)
		return; /* a beam that large would hide the picture */
	double x = in->img_x0 + 4, y = in->img_y0 + in->nyd - 4 - box;
	cairo_save(cr);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_rectangle(cr, x, y, box, box);
	cairo_fill_preserve(cr);
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_set_line_width(cr, 1);
	cairo_stroke(cr);
	/* BPA is east of north: north is up, east left on the canvas, so the
	 * major axis points along (−sin PA, −cos PA). */
	cairo_translate(cr, x + box / 2, y + box / 2);
	cairo_rotate(cr, atan2(-cos(pa), -sin(pa)));
	cairo_scale(cr, fmax(a, 0.5), fmax(b, 0.5));
	cairo_arc(cr, 0, 0, 1, 0, 2 * M_PI);
	cairo_restore(cr);
	cairo_set_source_rgb(cr, 0.85, 0.55, 0.0);
	cairo_fill(cr);
}

static void draw_sources(cairo_t *cr, const plot_fits *img, const plot_qlook_opts *o,
			 plot_qlook_info *in)
{
	int n = 0;
	for (size_t k = 0; k < o->nsources; k++) {
		double x, y;
		const plot_source *s = &o->sources[k];
		if (!plot_fits_world_to_pix(img, s->ra_deg, s->dec_deg, &x, &y) && x >= -0.5 &&
		    x <= img->nx - 0.5 && y >= -0.5 && y <= img->ny - 0.5)
			n++;
	}
	in->ncircled = n;
	cairo_save(cr);
	cairo_rectangle(cr, in->img_x0, in->img_y0, in->nxd, in->nyd);
	cairo_clip(cr);
	cairo_set_line_width(cr, 1.5);
	for (size_t k = 0; k < o->nsources; k++) {
		double x, y, cx, cy;
		const plot_source *s = &o->sources[k];
		if (plot_fits_world_to_pix(img, s->ra_deg, s->dec_deg, &x, &y) || x < -0.5 ||
		    x > img->nx - 0.5 || y < -0.5 || y > img->ny - 0.5)
			continue;
		plot_qlook_pix_to_canvas(in, x, y, &cx, &cy);
		cairo_set_source_rgb(cr, 0.1, 0.9, 0.1);
		cairo_new_path(cr);
		cairo_arc(cr, cx, cy, 8, 0, 2 * M_PI);
		cairo_stroke(cr);
		if (n <= MAX_LABELLED && s->label[0])
			plot_text(cr, cx + 10, cy - 6, 10, 0, 1, 0, 0, s->label);
	}
	cairo_restore(cr);
}

int plot_qlook_render(const plot_fits *img, const plot_qlook_opts *o, plot_format fmt,
		      unsigned char **ret_buf, size_t *ret_len, plot_qlook_info *ret_info,
		      char *err, size_t errlen)
{
	static const plot_qlook_opts defaults = { 0 };
	plot_qlook_info in;
	plot_canvas cv = { 0 };
	cairo_surface_t *pic = NULL;
	float *ds = NULL;
	int r = 0;

	if (!o)
		o = &defaults;
	if (!img->data || !img->has_wcs)
		return err_set(err, errlen, -EINVAL, "quick-look: no image data or WCS");
	memset(&in, 0, sizeof in);
	int maxpx = o->max_px > 0 ? o->max_px : PLOT_QLOOK_MAX_PX;
	int longest = img->nx > img->ny ? img->nx : img->ny;
	in.factor = (longest + maxpx - 1) / maxpx;
	if (in.factor < 1)
		in.factor = 1;
	in.nxd = (img->nx + in.factor - 1) / in.factor;
	in.nyd = (img->ny + in.factor - 1) / in.factor;
	in.img_x0 = ML;
	in.img_y0 = MT;
	in.width = ML + in.nxd + CB_GAP + CB_W + CB_R;
	in.height = MT + in.nyd + MB;
	if (in.height < 260)
		in.height = 260;

	ds = malloc((size_t)in.nxd * in.nyd * sizeof *ds);
	if (!ds)
		return err_set(err, errlen, -ENOMEM, "quick-look: out of memory");
	downsample(img->data, img->nx, img->ny, in.factor, ds, in.nxd, in.nyd);
	/* The limits from the picture's pixels (what is shown), the peak for
	 * asinh from them too. */
	double zlo, zhi;
	if (plot_zscale(ds, (size_t)in.nxd * in.nyd, &zlo, &zhi)) {
		r = err_set(err, errlen, -EINVAL, "quick-look: no finite pixel in the image");
		goto out;
	}
	in.stretch.kind = o->stretch == PLOT_STRETCH_ASINH ? PLOT_STRETCH_ASINH
							   : PLOT_STRETCH_LINEAR;
	in.stretch.vmin = zlo;
	in.stretch.vmax = zhi;
	if (in.stretch.kind == PLOT_STRETCH_ASINH) {
		double peak = -INFINITY;
		for (size_t i = 0; i < (size_t)in.nxd * in.nyd; i++)
			if (ds[i] > peak)
				peak = ds[i];
		if (peak > zhi)
			in.stretch.vmax = peak;
		/* Soften at the zscale top: the noise keeps the bottom ~third. */
		double a = (zhi - zlo) / (in.stretch.vmax - zlo);
		in.stretch.asinh_a = fmin(fmax(a, 1e-4), 0.1);
	}
	if (!(in.stretch.vmax > in.stretch.vmin)) {
		double d = fabs(in.stretch.vmin) > 0 ? 0.01 * fabs(in.stretch.vmin) : 1;
		in.stretch.vmin -= d;
		in.stretch.vmax += d;
	}

	/* The picture as an image surface, painted 1:1. */
	pic = cairo_image_surface_create(CAIRO_FORMAT_RGB24, in.nxd, in.nyd);
	if (cairo_surface_status(pic) != CAIRO_STATUS_SUCCESS) {
		r = err_set(err, errlen, -ENOMEM, "quick-look: out of memory");
		goto out;
	}
	cairo_surface_flush(pic);
	unsigned char *px = cairo_image_surface_get_data(pic);
	int stride = cairo_image_surface_get_stride(pic);
	for (int j = 0; j < in.nyd; j++) {
		uint32_t *row = (uint32_t *)(px + (size_t)(in.nyd - 1 - j) * stride);
		for (int i = 0; i < in.nxd; i++) {
			double rgb[3];
			plot_grey(plot_stretch_apply(&in.stretch, ds[(size_t)j * in.nxd + i]), rgb);
			row[i] = (uint32_t)lround(rgb[0] * 255) << 16 |
				 (uint32_t)lround(rgb[1] * 255) << 8 | (uint32_t)lround(rgb[2] * 255);
		}
	}
	cairo_surface_mark_dirty(pic);

	if ((r = plot_canvas_begin(&cv, in.width, in.height, fmt, err, errlen)) < 0)
		goto out;
	cairo_t *cr = cv.cr;
	cairo_set_source_surface(cr, pic, in.img_x0, in.img_y0);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
	cairo_rectangle(cr, in.img_x0, in.img_y0, in.nxd, in.nyd);
	cairo_fill(cr);
	draw_grid(cr, img, &in);
	draw_sources(cr, img, o, &in);
	draw_beam(cr, img, &in);
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_set_line_width(cr, 1);
	cairo_rectangle(cr, in.img_x0 - 0.5, in.img_y0 - 0.5, in.nxd + 1, in.nyd + 1);
	cairo_stroke(cr);
	/* Colour bar: the unit as the header gives it (JY/BEAM → Jy/beam). */
	char unit[48];
	if (!img->bunit[0])
		snprintf(unit, sizeof unit, "intensity");
	else if (!strcasecmp(img->bunit, "JY/BEAM"))
		snprintf(unit, sizeof unit, "Jy/beam");
	else
		snprintf(unit, sizeof unit, "%s", img->bunit);
	plot_colorbar(cr, in.img_x0 + in.nxd + CB_GAP, in.img_y0, CB_W, in.nyd, &in.stretch, 1,
		      unit);
	char title[160];
	if (o->title)
		snprintf(title, sizeof title, "%s", o->title);
	else
		snprintf(title, sizeof title, "%s", img->object[0] ? img->object : img->date_obs);
	char sub[96];
	const char *sname = in.stretch.kind == PLOT_STRETCH_ASINH ? "asinh" : "zscale";
	if (in.factor > 1)
		snprintf(sub, sizeof sub, "%s, %d\xc3\x97%d binned", sname, in.factor, in.factor);
	else
		snprintf(sub, sizeof sub, "%s", sname);
	cairo_set_source_rgb(cr, 0, 0, 0);
	plot_text(cr, in.img_x0, 12, 14, 0, 0, 0, 1, title);
	plot_text(cr, in.img_x0 + in.nxd, 14, 11, 1, 0, 0, 0, sub);
	r = plot_canvas_save_mem(&cv, ret_buf, ret_len, err, errlen);
	if (r == 0 && ret_info)
		*ret_info = in;
out:
	plot_canvas_release(&cv);
	if (pic)
		cairo_surface_destroy(pic);
	free(ds);
	return r;
}

int plot_qlook_write(const char *fits_path, const char *out_path, const plot_qlook_opts *o,
		     plot_qlook_info *ret_info, char *err, size_t errlen)
{
	plot_fits img;
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = plot_fits_read(fits_path, 1, &img, err, errlen);
	if (r < 0)
		return r;
	r = plot_qlook_render(&img, o, plot_format_of(out_path), &buf, &len, ret_info, err,
			      errlen);
	if (r == 0)
		r = plot_write_file(out_path, buf, len, err, errlen);
	free(buf);
	plot_fits_release(&img);
	return r;
}
