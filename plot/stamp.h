/*
 * plot/stamp.h — postage stamps: a small box of an image around a sky
 * position, cut from the FITS file on request, as an array and as a picture;
 * and a strip of stamps of one position across epochs.
 *
 * The cut: the target's pixel through the image's WCS (WCSLIB), rounded to
 * the nearest pixel, is the stamp's centre pixel; the stamp is n × n pixels
 * (n odd) in the image's own pixel grid (no resampling), and the pixels of
 * the box outside the image are NaN.  Only the box is read from the file.
 *
 * The picture: each stamp enlarged to PLOT_STAMP_PX (nearest pixel), grey
 * between the IRAF zscale limits of all the stamps together (one scale for a
 * strip, so brightness changes show), a red cross-hair around the target, a
 * label under each stamp (its date by default), the position and size as
 * the title and a colour bar.
 *
 * Ownership: plot_stamp_cut fills a plot_stamp whose data the caller releases
 * with plot_stamp_release; returned buffers are malloc'd (free()).
 */
#ifndef CONTIMG_PLOT_STAMP_H
#define CONTIMG_PLOT_STAMP_H

#include <stddef.h>

#include "plot/axes.h"

#define PLOT_STAMP_PX 200          /* display size of one stamp */
#define PLOT_STAMP_MAX 2049        /* largest stamp side, pixels */

typedef struct plot_stamp {
	int n;                     /* side, pixels (odd) */
	float *data;               /* [n][n], x fastest, row 0 at the bottom; NaN off the image */
	int x0, y0;                /* 0-based image pixel of stamp pixel (0, 0) */
	double tx, ty;             /* the target's fractional pixel inside the stamp (near
				      (n-1)/2, (n-1)/2) */
	double cell_deg;           /* pixel size */
	char bunit[32];
	char date_obs[32];         /* the image's DATE-OBS ("" when absent) */
	double mjd_obs;            /* NAN when absent */
} plot_stamp;

/* Cut a stamp of fits_path around (ra_deg, dec_deg): npix pixels on a side
 * when npix > 0 (made odd by adding one), else size_deg wide (rounded up to
 * an odd number of pixels).  -ENOENT no such file; -EINVAL no WCS, a target
 * without a pixel, a bad size (more than PLOT_STAMP_MAX pixels); -ERANGE
 * when the target lies outside the image; -EIO, -ENOMEM. */
int plot_stamp_cut(const char *fits_path, double ra_deg, double dec_deg, double size_deg,
		   int npix, plot_stamp *ret, char *err, size_t errlen);

void plot_stamp_release(plot_stamp *s);

/* Render n stamps side by side (labels[k] under stamp k; NULL or a NULL
 * entry: its DATE-OBS) with `title` on top.  ret buffer as in plot/axes.h. */
int plot_stamp_render(const plot_stamp *st, size_t n, const char *const *labels,
		      const char *title, plot_format fmt, unsigned char **ret_buf,
		      size_t *ret_len, char *err, size_t errlen);

/* One stamp of fits_path as a PNG in memory (*png malloc'd, *len bytes; the
 * caller frees *png with free()): the web service's entry point.  size_deg
 * as plot_stamp_cut (> 0).  Errors as plot_stamp_cut and plot_stamp_render. */
int plot_stamp_png_mem(const char *fits_path, double ra_deg, double dec_deg, double size_deg,
		       unsigned char **png, size_t *len, char *err, size_t errlen);

/* The stamps of (ra_deg, dec_deg) in each of the n FITS files, side by side,
 * written to out_path (PNG, or SVG when it ends in .svg).  labels as
 * plot_stamp_render.  An image that does not contain the position is left
 * out (*ret_used, may be NULL, counts those drawn); none at all is -ERANGE. */
int plot_stamp_strip_write(const char *const *fits_paths, const char *const *labels, size_t n,
			   double ra_deg, double dec_deg, double size_deg, const char *out_path,
			   size_t *ret_used, char *err, size_t errlen);

#endif
