/*
 * plot/axes.h — what every contimg picture shares: a canvas (a cairo surface
 * that becomes a PNG or an SVG document), text in one font, a rectangular
 * plot frame with "nice" ticks, the grey colour map, the two intensity
 * stretches (linear between limits, asinh) with the IRAF zscale limits, and
 * a colour bar.
 *
 * Why cairo (docs/dependencies.md): one drawing code gives both a PNG
 * (cairo's image surface and its PNG writer) and an SVG (cairo's SVG
 * surface); text is real, anti-aliased type (the toy text API with
 * fontconfig's "DejaVu Sans", Debian fonts-dejavu-core), and the library is
 * part of every desktop distribution.
 *
 * Coordinates are cairo's device units: x to the right, y downwards, one unit
 * = one PNG pixel (and one SVG "pt").  Pure rendering: no files except what
 * plot_canvas_save writes, no logging, no database.
 *
 * Ownership: plot_canvas_begin makes a surface the canvas owns until
 * plot_canvas_save/_save_mem/_release; plot_canvas_save_mem hands the caller
 * a malloc'd buffer (free() it).
 */
#ifndef CONTIMG_PLOT_AXES_H
#define CONTIMG_PLOT_AXES_H

#include <stddef.h>

#include <cairo.h>

#define PLOT_FONT "DejaVu Sans"

typedef enum plot_format { PLOT_PNG = 0, PLOT_SVG = 1 } plot_format;

/* PLOT_SVG when path ends in ".svg" (any case), else PLOT_PNG. */
plot_format plot_format_of(const char *path);

typedef struct plot_canvas {
	cairo_surface_t *surf;
	cairo_t *cr;               /* draw with this */
	int width, height;         /* device units */
	plot_format fmt;
	unsigned char *buf;        /* the SVG stream (internal) */
	size_t len, cap;
	int nomem;
} plot_canvas;

/* A white width × height canvas.  -EINVAL for a bad size, -ENOMEM. */
int plot_canvas_begin(plot_canvas *c, int width, int height, plot_format fmt, char *err,
		      size_t errlen);

/* Finish the drawing and hand back the encoded file (PNG or SVG bytes) in a
 * malloc'd *ret_buf of *ret_len bytes (the caller frees).  The canvas is
 * released either way.  -ENOMEM, -EIO when cairo reports an error. */
int plot_canvas_save_mem(plot_canvas *c, unsigned char **ret_buf, size_t *ret_len, char *err,
			 size_t errlen);

/* Finish and write the file to path durably (path.tmp, fsync, rename:
 * core/fsx.h).  The canvas is released either way.  Errors as above plus
 * -errno of the write, with the path in err. */
int plot_canvas_save(plot_canvas *c, const char *path, char *err, size_t errlen);

/* Drop a canvas without writing anything (safe on a zeroed one). */
void plot_canvas_release(plot_canvas *c);

/* Write len bytes to path durably (as plot_canvas_save). */
int plot_write_file(const char *path, const unsigned char *buf, size_t len, char *err,
		    size_t errlen);

/* ---- text ---- */

/* Draw s with its anchor at (x, y): ha 0 left, 0.5 centre, 1 right of the
 * text's ink extents horizontally, va the same vertically (0 top, 1 bottom);
 * size in device units; angle_deg rotates about the anchor (90: reading
 * upwards).  bold selects the bold face. */
void plot_text(cairo_t *cr, double x, double y, double size, double ha, double va,
	       double angle_deg, int bold, const char *s);

/* ---- a frame with linear axes ---- */

typedef struct plot_frame {
	double x0, y0, w, h;       /* device rectangle of the plotting area */
	double xmin, xmax;         /* data range across (xmax > xmin) */
	double ymin, ymax;         /* data range upwards (ymax > ymin) */
} plot_frame;

static inline double plot_fx(const plot_frame *f, double v)
{
	return f->x0 + (v - f->xmin) / (f->xmax - f->xmin) * f->w;
}

static inline double plot_fy(const plot_frame *f, double v)
{
	return f->y0 + (f->ymax - v) / (f->ymax - f->ymin) * f->h;
}

/* A step of 1, 2 or 5 × 10^k giving about `want` intervals over span (> 0). */
double plot_nice_step(double span, int want);

/* How a tick value becomes its label (NULL: "%g"). */
typedef void (*plot_tick_fmt)(double v, char *buf, size_t len, void *arg);

/* The frame's box, light grid lines and tick labels every xstep / ystep (0:
 * plot_nice_step of the range, about 6 intervals; < 0: no ticks on that
 * axis), and the axis titles (NULL: none).  Clips nothing. */
void plot_frame_draw(cairo_t *cr, const plot_frame *f, double xstep, plot_tick_fmt xfmt,
		     void *xarg, double ystep, const char *xlabel, const char *ylabel);

/* Clip further drawing to the frame's rectangle (cairo_save first; undo with
 * cairo_restore). */
void plot_frame_clip(cairo_t *cr, const plot_frame *f);

/* ---- intensities ---- */

enum plot_stretch_kind { PLOT_STRETCH_LINEAR = 0, PLOT_STRETCH_ASINH = 1 };

typedef struct plot_stretch {
	int kind;                  /* enum plot_stretch_kind */
	double vmin, vmax;         /* black and white (vmax > vmin) */
	double asinh_a;            /* asinh softening as a fraction of vmax − vmin (0.1) */
} plot_stretch;

/* v → [0, 1]: linear u = (v − vmin)/(vmax − vmin) clipped; asinh
 * asinh(u/a)/asinh(1/a) (Lupton, Gunn & Szalay 1999, AJ 118, 1406: linear
 * near the floor, logarithmic for the bright end).  NaN stays NaN. */
double plot_stretch_apply(const plot_stretch *s, double v);

/* The inverse of plot_stretch_apply on [0, 1]. */
double plot_stretch_invert(const plot_stretch *s, double t);

/* IRAF zscale limits of the finite values of data[0..n) (sampled, at most
 * ~1000 samples taken at an even stride), as IRAF's `display` task and
 * astropy.visualization.ZScaleInterval compute them: sort the samples, fit a
 * straight line to value vs rank with iterative 2.5σ rejection (at most 5
 * iterations, rejected points grown by 1 % of the sample, stop when fewer
 * than half are left), divide the slope by the contrast (0.25), and take
 * median ∓ slope × rank distance to the ends, clipped to the sample's
 * min/max.  When the fit gives up, the sample's min and max.  Returns 0, or
 * -EINVAL when there is no finite value (limits untouched). */
int plot_zscale(const float *data, size_t n, double *ret_vmin, double *ret_vmax);

/* The grey map: t in [0, 1] → r = g = b = t; NaN → the blank colour (a pale
 * blue-grey, so blanked pixels are not mistaken for zero). */
void plot_grey(double t, double rgb[3]);

/* A vertical colour bar in the rectangle (x, y, w, h), vmin at the bottom,
 * ticks on the right in data units × scale, labelled `label` (rotated). */
void plot_colorbar(cairo_t *cr, double x, double y, double w, double h, const plot_stretch *s,
		   double scale, const char *label);

/* Free cairo's and fontconfig's process-wide caches (fonts, glyphs) so a
 * leak checker sees a clean exit: for the end of a program (the tests), when
 * no thread draws any more; nothing may be drawn afterwards. */
void plot_release_statics(void);

/* A distinct colour for series k of n (hues around the wheel, k in [0, n)). */
void plot_series_colour(int k, int n, double rgb[3]);

#endif
