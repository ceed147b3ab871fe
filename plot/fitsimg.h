/*
 * plot/fitsimg.h — an image plane and its sky coordinates read from a FITS
 * file, for the pictures (plot/qlook.h, plot/stamp.h).
 *
 * Reads the primary HDU: the first plane of the first two axes (a contimg
 * image is RA---SIN × DEC--SIN × FREQ × STOKES, imaging/fitsout.h), its
 * celestial WCS (wcspih on the header, wcssub to the longitude and latitude
 * axes, wcsset — so any projection WCSLIB knows), BUNIT, BMAJ/BMIN/BPA,
 * DATE-OBS/MJD-OBS and OBJECT.  Blank pixels (NaN, or BLANK in an integer
 * image) come back as NaN.
 *
 * Pixel coordinates in this module and its users are 0-based: pixel (0, 0)
 * is FITS pixel (1, 1), the first of the file, drawn at the bottom left.
 *
 * Ownership: plot_fits_read fills a plot_fits the caller releases with
 * plot_fits_release (safe on a zeroed one).
 */
#ifndef CONTIMG_PLOT_FITSIMG_H
#define CONTIMG_PLOT_FITSIMG_H

#include <stddef.h>

#include <wcslib/wcs.h>

typedef struct plot_fits {
	int nx, ny;
	float *data;               /* [ny][nx] (x fastest), NaN blank; NULL when only the
				      header was read */
	struct wcsprm wcs;         /* 2-D celestial, wcsset done */
	int has_wcs;
	char bunit[32];            /* "" when absent */
	double bmaj_deg, bmin_deg, bpa_deg;  /* NAN when absent */
	double mjd_obs;            /* NAN when absent */
	char date_obs[32];         /* DATE-OBS as written, "" when absent */
	char object[72];           /* OBJECT, "" when absent */
} plot_fits;

/* Read path's primary HDU into *ret (with the pixels when with_data).
 * -ENOENT when the file does not exist, -EINVAL when it has fewer than two
 * axes or no celestial WCS, -EIO with CFITSIO's message, -ENOMEM. */
int plot_fits_read(const char *path, int with_data, plot_fits *ret, char *err, size_t errlen);

/* Read the box [x0, x0 + nx) × [y0, y0 + ny) of the open image plane (any
 * part may lie outside the image: those pixels are NaN) from path into
 * out[ny][nx].  Used by the stamps so a cut-out never reads the whole
 * image.  Errors as plot_fits_read. */
int plot_fits_read_box(const char *path, int x0, int y0, int nx, int ny, float *out,
		       char *err, size_t errlen);

void plot_fits_release(plot_fits *f);

/* World (degrees) → 0-based pixel through f's WCS; -1 when the point has no
 * pixel (outside the projection's domain).  And back. */
int plot_fits_world_to_pix(const plot_fits *f, double ra_deg, double dec_deg, double *ret_x,
			   double *ret_y);
int plot_fits_pix_to_world(const plot_fits *f, double x, double y, double *ret_ra_deg,
			   double *ret_dec_deg);

/* The pixel size along the second (latitude) axis in degrees: |CDELT2| or
 * the length of the CD/PC column. */
double plot_fits_cell_deg(const plot_fits *f);

#endif
