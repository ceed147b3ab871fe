/*
 * tests/plot/plotsynth.h — what the picture tests share: a synthetic FITS
 * image with a SIN WCS written with CFITSIO, the SIN projection done by hand
 * (the independent check of WCSLIB's labels), and PNG decoding through
 * cairo's own reader.
 */
#ifndef CONTIMG_TESTS_PLOTSYNTH_H
#define CONTIMG_TESTS_PLOTSYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cairo.h>
#include <fitsio.h>

typedef struct synth_wcs {
	int nx, ny;
	double ra0_deg, dec0_deg;  /* CRVAL */
	double cell_deg;           /* CDELT2 = cell, CDELT1 = -cell */
} synth_wcs;

/* Write data[ny][nx] with RA---SIN/DEC--SIN about (ra0, dec0), CRPIX at
 * 0-based (nx/2, ny/2), a 30"×20" beam at PA 30°, BUNIT JY/BEAM, DATE-OBS. */
static inline int synth_write_fits(const char *path, const synth_wcs *w, const float *data)
{
	fitsfile *f = NULL;
	int st = 0;
	long naxes[2] = { w->nx, w->ny };
	char cpath[4200];
	snprintf(cpath, sizeof cpath, "!%s", path);
	fits_create_file(&f, cpath, &st);
	fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
	double crpix1 = w->nx / 2 + 1, crpix2 = w->ny / 2 + 1, cd1 = -w->cell_deg,
	       cd2 = w->cell_deg, bmaj = 30.0 / 3600, bmin = 20.0 / 3600, bpa = 30;
	double mjd = 61100.25;
	fits_write_key(f, TSTRING, "CTYPE1", "RA---SIN", NULL, &st);
	fits_write_key(f, TSTRING, "CTYPE2", "DEC--SIN", NULL, &st);
	fits_write_key(f, TDOUBLE, "CRVAL1", (void *)&w->ra0_deg, NULL, &st);
	fits_write_key(f, TDOUBLE, "CRVAL2", (void *)&w->dec0_deg, NULL, &st);
	fits_write_key(f, TDOUBLE, "CRPIX1", &crpix1, NULL, &st);
	fits_write_key(f, TDOUBLE, "CRPIX2", &crpix2, NULL, &st);
	fits_write_key(f, TDOUBLE, "CDELT1", &cd1, NULL, &st);
	fits_write_key(f, TDOUBLE, "CDELT2", &cd2, NULL, &st);
	fits_write_key(f, TSTRING, "CUNIT1", "deg", NULL, &st);
	fits_write_key(f, TSTRING, "CUNIT2", "deg", NULL, &st);
	fits_write_key(f, TSTRING, "RADESYS", "ICRS", NULL, &st);
	fits_write_key(f, TDOUBLE, "BMAJ", &bmaj, NULL, &st);
	fits_write_key(f, TDOUBLE, "BMIN", &bmin, NULL, &st);
	fits_write_key(f, TDOUBLE, "BPA", &bpa, NULL, &st);
	fits_write_key(f, TSTRING, "BUNIT", "JY/BEAM", NULL, &st);
	fits_write_key(f, TSTRING, "DATE-OBS", "2026-03-01T06:00:00.000", NULL, &st);
	fits_write_key(f, TDOUBLE, "MJD-OBS", &mjd, NULL, &st);
	fits_write_key(f, TSTRING, "OBJECT", "synthetic", NULL, &st);
	fits_write_img(f, TFLOAT, 1, (LONGLONG)w->nx * w->ny, (void *)data, &st);
	fits_close_file(f, &st);
	return st;
}

/* SIN (orthographic) by hand: 0-based pixel → RA/Dec (degrees), with the
 * direction cosines l (toward increasing RA) = CDELT1·(x − x_ref),
 * m = CDELT2·(y − y_ref) (Calabretta & Greisen 2002, A&A 395, 1077, SIN with
 * ξ = η = 0). */
static inline void synth_pix_to_world(const synth_wcs *w, double x, double y, double *ra,
				      double *dec)
{
	const double D = M_PI / 180;
	double l = -w->cell_deg * (x - w->nx / 2) * D, m = w->cell_deg * (y - w->ny / 2) * D;
	double n = sqrt(1 - l * l - m * m), d0 = w->dec0_deg * D;
	*dec = asin(m * cos(d0) + n * sin(d0)) / D;
	*ra = w->ra0_deg + atan2(l, n * cos(d0) - m * sin(d0)) / D;
	*ra = fmod(*ra + 360, 360);
}

/* And back: RA/Dec → 0-based pixel. */
static inline void synth_world_to_pix(const synth_wcs *w, double ra, double dec, double *x,
				      double *y)
{
	const double D = M_PI / 180;
	double a = (ra - w->ra0_deg) * D, d = dec * D, d0 = w->dec0_deg * D;
	double l = cos(d) * sin(a), m = sin(d) * cos(d0) - cos(d) * sin(d0) * cos(a);
	*x = w->nx / 2 - l / D / w->cell_deg;
	*y = w->ny / 2 + m / D / w->cell_deg;
}

/* Decode a PNG in memory with cairo's reader. */
typedef struct png_reader {
	const unsigned char *p;
	size_t len, pos;
} png_reader;

static inline cairo_status_t png_read_cb(void *closure, unsigned char *data, unsigned int n)
{
	png_reader *r = closure;
	if (r->pos + n > r->len)
		return CAIRO_STATUS_READ_ERROR;
	memcpy(data, r->p + r->pos, n);
	r->pos += n;
	return CAIRO_STATUS_SUCCESS;
}

/* NULL when it does not decode. */
static inline cairo_surface_t *png_decode(const unsigned char *buf, size_t len)
{
	png_reader r = { buf, len, 0 };
	cairo_surface_t *s = cairo_image_surface_create_from_png_stream(png_read_cb, &r);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(s);
		return NULL;
	}
	cairo_surface_flush(s);
	return s;
}

/* The pixel (x, y) of a decoded surface as 0xRRGGBB (-1 outside). */
static inline long png_pixel(cairo_surface_t *s, int x, int y)
{
	if (x < 0 || y < 0 || x >= cairo_image_surface_get_width(s) ||
	    y >= cairo_image_surface_get_height(s))
		return -1;
	const unsigned char *d = cairo_image_surface_get_data(s);
	uint32_t v = *(const uint32_t *)(d + (size_t)y * cairo_image_surface_get_stride(s) + 4 * x);
	return (long)(v & 0xffffff);
}

#define PX_R(v) ((int)(((v) >> 16) & 0xff))
#define PX_G(v) ((int)(((v) >> 8) & 0xff))
#define PX_B(v) ((int)((v) & 0xff))

#endif
