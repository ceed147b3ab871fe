/*
 * plot/fitsimg.c — FITS image plane + celestial WCS for the pictures
 * (plot/fitsimg.h).
 */
#include "plot/fitsimg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>
#include <wcslib/wcshdr.h>

#include "core/err.h"
#include "imaging/mosaic.h"

static int fits_fail(char *err, size_t errlen, const char *path, int st)
{
	char msg[FLEN_ERRMSG] = "";
	fits_get_errstatus(st, msg);
	return err_set(err, errlen, st == FILE_NOT_OPENED ? -ENOENT : -EIO, "%s: CFITSIO: %s",
		       path, msg);
}

static double key_double(fitsfile *f, const char *key)
{
	double v;
	int st = 0;
	if (fits_read_key(f, TDOUBLE, key, &v, NULL, &st))
		return NAN;
	return v;
}

static void key_str(fitsfile *f, const char *key, char *buf, size_t len)
{
	char v[FLEN_VALUE] = "";
	int st = 0;
	buf[0] = 0;
	if (!fits_read_key(f, TSTRING, key, v, NULL, &st))
		snprintf(buf, len, "%s", v);
}

int plot_fits_read(const char *path, int with_data, plot_fits *ret, char *err, size_t errlen)
{
	fitsfile *f = NULL;
	int st = 0, naxis = 0, r = 0;
	long naxes[9] = { 0 };
	plot_fits p;

	memset(&p, 0, sizeof p);
	p.wcs.flag = -1;
	if (fits_open_image(&f, path, READONLY, &st))
		return fits_fail(err, errlen, path, st);
	if (fits_get_img_dim(f, &naxis, &st) || fits_get_img_size(f, 9, naxes, &st)) {
		r = fits_fail(err, errlen, path, st);
		goto out;
	}
	if (naxis < 2 || naxes[0] < 1 || naxes[1] < 1 || naxes[0] > 65536 || naxes[1] > 65536) {
		r = err_set(err, errlen, -EINVAL, "%s: not a 2-D image", path);
		goto out;
	}
	p.nx = (int)naxes[0];
	p.ny = (int)naxes[1];
	if ((r = mosaic_read_cel_wcs(f, path, &p.wcs, err, errlen)) < 0)
		goto out;
	p.has_wcs = 1;
	key_str(f, "BUNIT", p.bunit, sizeof p.bunit);
	key_str(f, "DATE-OBS", p.date_obs, sizeof p.date_obs);
	key_str(f, "OBJECT", p.object, sizeof p.object);
	p.bmaj_deg = key_double(f, "BMAJ");
	p.bmin_deg = key_double(f, "BMIN");
	p.bpa_deg = key_double(f, "BPA");
	p.mjd_obs = key_double(f, "MJD-OBS");
	if (with_data) {
		size_t npix = (size_t)p.nx * p.ny;
		long fpix[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
		float nanv = NAN;
		int anynul = 0;
		p.data = malloc(npix * sizeof *p.data);
		if (!p.data) {
			r = err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
			goto out;
		}
		if (fits_read_pix(f, TFLOAT, fpix, (LONGLONG)npix, &nanv, p.data, &anynul, &st)) {
			r = fits_fail(err, errlen, path, st);
			goto out;
		}
	}
out:
	st = 0;
	fits_close_file(f, &st);
	if (r < 0)
		plot_fits_release(&p);
	else
		*ret = p;
	return r;
}

int plot_fits_read_box(const char *path, int x0, int y0, int nx, int ny, float *out,
		       char *err, size_t errlen)
{
	fitsfile *f = NULL;
	int st = 0, naxis = 0, r = 0;
	long naxes[9] = { 0 };

	for (size_t i = 0; i < (size_t)nx * ny; i++)
		out[i] = NAN;
	if (fits_open_image(&f, path, READONLY, &st))
		return fits_fail(err, errlen, path, st);
	if (fits_get_img_dim(f, &naxis, &st) || fits_get_img_size(f, 9, naxes, &st)) {
		r = fits_fail(err, errlen, path, st);
		goto out;
	}
	if (naxis < 2) {
		r = err_set(err, errlen, -EINVAL, "%s: not a 2-D image", path);
		goto out;
	}
	/* The part of the box inside the image, read row by row into place. */
	int ax = x0 > 0 ? x0 : 0, bx = x0 + nx < naxes[0] ? x0 + nx : (int)naxes[0];
	int ay = y0 > 0 ? y0 : 0, by = y0 + ny < naxes[1] ? y0 + ny : (int)naxes[1];
	for (int y = ay; y < by && ax < bx; y++) {
		long fpix[9] = { ax + 1, y + 1, 1, 1, 1, 1, 1, 1, 1 };
		float nanv = NAN;
		int anynul = 0;
		if (fits_read_pix(f, TFLOAT, fpix, bx - ax, &nanv,
				  out + (size_t)(y - y0) * nx + (ax - x0), &anynul, &st)) {
			r = fits_fail(err, errlen, path, st);
			goto out;
		}
	}
out:
	st = 0;
	fits_close_file(f, &st);
	return r;
}

void plot_fits_release(plot_fits *f)
{
	free(f->data);
	if (f->has_wcs)
		wcsfree(&f->wcs);
	memset(f, 0, sizeof *f);
}

int plot_fits_world_to_pix(const plot_fits *f, double ra_deg, double dec_deg, double *ret_x,
			   double *ret_y)
{
	double world[2] = { ra_deg, dec_deg }, imgc[2], pix[2], phi, theta;
	int stat = 0;
	/* wcss2p takes a non-const wcsprm (it may call wcsset); ours is set. */
	if (wcss2p((struct wcsprm *)&f->wcs, 1, 2, world, &phi, &theta, imgc, pix, &stat) ||
	    stat)
		return -1;
	*ret_x = pix[0] - 1;
	*ret_y = pix[1] - 1;
	return 0;
}

int plot_fits_pix_to_world(const plot_fits *f, double x, double y, double *ret_ra_deg,
			   double *ret_dec_deg)
{
	double pix[2] = { x + 1, y + 1 }, imgc[2], world[2], phi, theta;
	int stat = 0;
	if (wcsp2s((struct wcsprm *)&f->wcs, 1, 2, pix, imgc, &phi, &theta, world, &stat) || stat)
		return -1;
	*ret_ra_deg = world[0];
	*ret_dec_deg = world[1];
	return 0;
}

double plot_fits_cell_deg(const plot_fits *f)
{
	const struct wcsprm *w = &f->wcs;
	/* After wcsset the linear transformation is cdelt × pc in every case
	 * (CD matrices are folded into pc with cdelt 1). */
	double a = w->cdelt[0] * w->pc[1], b = w->cdelt[1] * w->pc[3];
	return hypot(a, b);
}
