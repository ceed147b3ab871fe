/*
 * tests/imaging/refmeasure.h — measurement helpers shared by the reference
 * field acceptance tests (test_reference.c with the true gains divided out,
 * test_reference_cal.c on the calibrated path) and by
 * tests/integration/truthcheck.c: the truth JSON of a reference or
 * contimg-sim group, medians, the WCS of a written FITS image, and a
 * fixed-shape beam fit of a source's amplitude.  Static inline functions:
 * each program includes this header once and uses what it needs.
 */
#ifndef CONTIMG_TEST_REFMEASURE_H
#define CONTIMG_TEST_REFMEASURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <fitsio.h>
#include <json-c/json.h>
#include <wcslib/wcshdr.h>
#include <wcslib/wcs.h>

#include "imaging/image.h"

/* At most this many truth sources are read. */
#define MAXSRC 512

typedef struct truth_src {
	char name[32];
	double ra_deg, dec_deg, flux, alpha;
} truth_src;

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of a[0..n) (n > 0); sorts a in place. */
static inline double median(double *a, int n)
{
	qsort(a, n, sizeof *a, cmp_double);
	return n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
}

/* The sources (up to MAXSRC) and sigma_vis of a truth JSON file. */
static inline int read_truth(const char *path, truth_src *src, int *nsrc, double *sigma_vis)
{
	json_object *root = json_object_from_file(path), *o, *arr;
	*nsrc = 0;
	if (!root)
		return -1;
	if (json_object_object_get_ex(root, "sigma_vis", &o))
		*sigma_vis = json_object_get_double(o);
	if (!json_object_object_get_ex(root, "sources", &arr)) {
		json_object_put(root);
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(arr) && *nsrc < MAXSRC; i++) {
		json_object *s = json_object_array_get_idx(arr, i);
		truth_src *t = &src[(*nsrc)++];
		json_object_object_get_ex(s, "name", &o);
		snprintf(t->name, sizeof t->name, "%s", json_object_get_string(o));
		json_object_object_get_ex(s, "ra", &o);
		t->ra_deg = json_object_get_double(o);
		json_object_object_get_ex(s, "dec", &o);
		t->dec_deg = json_object_get_double(o);
		json_object_object_get_ex(s, "flux", &o);
		t->flux = json_object_get_double(o);
		json_object_object_get_ex(s, "alpha", &o);
		t->alpha = json_object_get_double(o);
	}
	json_object_put(root);
	return 0;
}

/* WCSLIB from the written FITS header (NULL on failure; free with wcsvfree). */
static inline struct wcsprm *read_wcs(const char *path, int *nwcs)
{
	fitsfile *f = NULL;
	int st = 0, nkeys = 0, nrej = 0;
	char *hdr = NULL;
	struct wcsprm *w = NULL;
	fits_open_file(&f, path, READONLY, &st);
	fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st);
	if (!st && wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, nwcs, &w) == 0 && *nwcs >= 1)
		wcsset(w);
	if (hdr)
		fits_free_memory(hdr, &st);
	fits_close_file(f, &st);
	return w;
}

/* Amplitude of the restoring beam centred at (x, y) fitted by least squares
 * to the pixels within half a minor-axis FWHM (a fixed-shape Gaussian fit:
 * less sensitive than the single peak pixel to how CLEAN spread the
 * components of an off-pixel source). */
static inline double beam_amplitude(const image_result *r, const float *img, double x, double y)
{
	double rad = 0.5 * r->beam.bmin_rad / r->cell_rad, sdk = 0, skk = 0;
	for (int iy = (int)floor(y - rad); iy <= (int)ceil(y + rad); iy++)
		for (int ix = (int)floor(x - rad); ix <= (int)ceil(x + rad); ix++) {
			if (ix < 0 || iy < 0 || ix >= r->nx || iy >= r->ny ||
			    hypot(ix - x, iy - y) > rad)
				continue;
			double d = img[(size_t)iy * r->nx + ix];
			double k = beamfit_gauss(&r->beam, -(ix - x) * r->cell_rad,
						 (iy - y) * r->cell_rad);
			if (!isfinite(d))
				continue;
			sdk += d * k;
			skk += k * k;
		}
	return skk > 0 ? sdk / skk : NAN;
}

#endif
