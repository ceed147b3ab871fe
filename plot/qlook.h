/*
 * plot/qlook.h — the quick-look picture of an image: what an astronomer
 * looks at first.
 *
 *   - the image block-averaged (NaN-aware) by the smallest integer factor
 *     that brings its longest side to at most max_px (1024) picture pixels;
 *   - grey scale between the IRAF zscale limits (plot/axes.h plot_zscale;
 *     linear) or, with PLOT_STRETCH_ASINH, from the zscale floor up to the
 *     image's peak through an asinh (bright sources and the noise both show);
 *   - a colour bar in the image's BUNIT (Jy/beam for contimg images);
 *   - the restoring beam (BMAJ/BMIN/BPA) as a filled ellipse in a box in the
 *     bottom-left corner, at the picture's scale;
 *   - an RA/Dec grid from the image's own WCS (WCSLIB, any projection):
 *     meridians every 1 s … 3 h of RA, parallels every 1″ … 10°, chosen to
 *     give about five lines; RA labelled where a meridian crosses the bottom
 *     edge ("08h34m30s"), Dec where a parallel crosses the left edge
 *     ("+55°30'");
 *   - the catalog sources given (RA/Dec/label) circled in green, labelled
 *     when there are at most 30 in the picture.
 *
 * Orientation: pixel (0, 0) (FITS (1, 1)) at the bottom left, as FITS
 * viewers show it; for a contimg image that is north up, east left.
 *
 * Ownership: the buffers returned are malloc'd (free()); the caller keeps
 * the inputs.
 */
#ifndef CONTIMG_PLOT_QLOOK_H
#define CONTIMG_PLOT_QLOOK_H

#include <stddef.h>

#include "plot/axes.h"
#include "plot/fitsimg.h"

#define PLOT_QLOOK_MAX_PX 1024
#define PLOT_MAX_TICKS 24

/* A catalog source to circle. */
typedef struct plot_source {
	double ra_deg, dec_deg;
	char label[64];            /* "" for none */
} plot_source;

typedef struct plot_qlook_opts {
	int max_px;                /* longest side of the image area (0: PLOT_QLOOK_MAX_PX) */
	int stretch;               /* PLOT_STRETCH_LINEAR (zscale, default) or _ASINH */
	const char *title;         /* NULL: OBJECT from the header (a contimg image: the group),
				      else DATE-OBS */
	const plot_source *sources;/* circled; may be NULL */
	size_t nsources;
} plot_qlook_opts;

/* One labelled grid line where it meets the picture's edge. */
typedef struct plot_tick {
	double world_deg;          /* the line's RA or Dec */
	double x, y;               /* 0-based image pixel where it crosses the edge (RA:
				      the bottom edge y = -0.5; Dec: the left edge x = -0.5) */
	double cx, cy;             /* the same point on the canvas */
	char label[24];            /* UTF-8, e.g. "08h34m30s", "+55°30'" */
} plot_tick;

/* Where things went (for tests and callers that draw over the picture). */
typedef struct plot_qlook_info {
	int width, height;         /* canvas */
	int factor;                /* block-average factor (1 = none) */
	int nxd, nyd;              /* picture pixels of the image area */
	double img_x0, img_y0;     /* canvas position of the image area's top-left corner */
	plot_stretch stretch;      /* the limits used (image units) */
	int nra, ndec;
	plot_tick ra[PLOT_MAX_TICKS], dec[PLOT_MAX_TICKS];
	int ncircled;              /* sources that fell in the picture */
} plot_qlook_info;

/* Render img (with its pixels) into a PNG or SVG in *ret_buf (malloc'd,
 * *ret_len bytes).  ret_info may be NULL.  -EINVAL for an image without
 * data or WCS or without a finite pixel, -ENOMEM, -EIO. */
int plot_qlook_render(const plot_fits *img, const plot_qlook_opts *o, plot_format fmt,
		      unsigned char **ret_buf, size_t *ret_len, plot_qlook_info *ret_info,
		      char *err, size_t errlen);

/* Read fits_path and write its quick-look to out_path (PNG, or SVG when the
 * name ends in .svg; durable: core/fsx.h).  Errors as plot_fits_read and
 * plot_qlook_render, plus the write's. */
int plot_qlook_write(const char *fits_path, const char *out_path, const plot_qlook_opts *o,
		     plot_qlook_info *ret_info, char *err, size_t errlen);

/* Canvas position of the 0-based image pixel (x, y) in a rendered picture. */
void plot_qlook_pix_to_canvas(const plot_qlook_info *in, double x, double y, double *ret_cx,
			      double *ret_cy);

/* The labels as the grid writes them: RA (degrees, any value; normalised to
 * [0, 360)) as hours "HHhMMm" when step_s (seconds of time) is a whole
 * minute, else "HHhMMmSSs"; Dec as "+DD°MM'" when step_arcsec is a whole
 * arcminute, else "+DD°MM'SS\"". */
void plot_format_ra(double ra_deg, double step_s, char *buf, size_t len);
void plot_format_dec(double dec_deg, double step_arcsec, char *buf, size_t len);

#endif
