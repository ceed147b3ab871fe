/*
 * tests/integration/truthcheck.c — measure written FITS products against a
 * simulator's truth JSON, the way an astronomer would: WCSLIB from the FITS
 * header, the peak near each truth position, its sub-pixel position
 * (image_peak_fit) converted back to ICRS, and the pbcor peak against the
 * truth flux at the image's frequency, S·(ν/1.4 GHz)^α.
 *
 *   truthcheck PBCOR.fits RESIDUAL.fits PB.fits TRUTH.json MIN_SNR
 *
 * A source is measured when its attenuated flux S·pb is at least MIN_SNR
 * times the residual's 1.4826·MAD.  One line per source, then
 *   summary n N median_offset_arcsec X median_ratio Y brightest NAME offset_arcsec X ratio Y
 * Exit 0, or 1 on unreadable input.
 */
#include <fitsio.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>

#include "imaging/image.h"

#define MAXS 512

typedef struct img {
	long nx, ny;
	float *pix;
	double freq;
	struct wcsprm *wcs;
	int nwcs;
} img;

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *a, int n)
{
	qsort(a, n, sizeof *a, cmpd);
	return n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
}

static int read_img(const char *path, int want_wcs, img *im)
{
	fitsfile *f = NULL;
	int st = 0, naxis = 0, nkeys = 0, nrej = 0;
	long naxes[4] = { 1, 1, 1, 1 }, first[4] = { 1, 1, 1, 1 };
	char *hdr = NULL;

	memset(im, 0, sizeof *im);
	if (fits_open_file(&f, path, READONLY, &st) ||
	    fits_get_img_dim(f, &naxis, &st) || naxis < 2 ||
	    fits_get_img_size(f, 4, naxes, &st)) {
		fprintf(stderr, "truthcheck: cannot read %s (status %d)\n", path, st);
		return -1;
	}
	im->nx = naxes[0];
	im->ny = naxes[1];
	im->pix = malloc((size_t)im->nx * im->ny * sizeof *im->pix);
	if (!im->pix || fits_read_pix(f, TFLOAT, first, im->nx * im->ny, NULL, im->pix, NULL, &st))
		goto bad;
	if (want_wcs) {
		if (fits_read_key(f, TDOUBLE, "CRVAL3", &im->freq, NULL, &st) ||
		    fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st))
			goto bad;
		if (wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, &im->nwcs, &im->wcs) || im->nwcs < 1 ||
		    wcsset(im->wcs)) {
			fits_free_memory(hdr, &st);
			fprintf(stderr, "truthcheck: WCSLIB rejects the header of %s\n", path);
			fits_close_file(f, &st);
			return -1;
		}
		fits_free_memory(hdr, &st);
	}
	fits_close_file(f, &st);
	return 0;
bad:
	fprintf(stderr, "truthcheck: cannot read %s (status %d)\n", path, st);
	fits_close_file(f, &st);
	return -1;
}

int main(int argc, char **argv)
{
	img im, res, pb;
	json_object *root, *arr;
	double offs[MAXS], rats[MAXS], best_s = -1, best_off = NAN, best_rat = NAN;
	char best[64] = "-";
	int n = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: truthcheck PBCOR.fits RESIDUAL.fits PB.fits TRUTH.json MIN_SNR\n");
		return 1;
	}
	double min_snr = atof(argv[5]);
	if (read_img(argv[1], 1, &im) || read_img(argv[2], 0, &res) || read_img(argv[3], 0, &pb))
		return 1;
	if (res.nx != im.nx || res.ny != im.ny || pb.nx != im.nx || pb.ny != im.ny) {
		fprintf(stderr, "truthcheck: the images differ in size\n");
		return 1;
	}
	/* Noise: 1.4826 MAD of the residual (every 7th pixel). */
	size_t npix = (size_t)im.nx * im.ny, m = 0;
	double *a = malloc((npix / 7 + 1) * sizeof *a);
	if (!a)
		return 1;
	for (size_t i = 0; i < npix; i += 7)
		if (isfinite(res.pix[i]))
			a[m++] = res.pix[i];
	double med = median(a, (int)m);
	for (size_t i = 0; i < m; i++)
		a[i] = fabs(a[i] - med);
	double sigma = 1.4826 * median(a, (int)m);
	free(a);

	root = json_object_from_file(argv[4]);
	if (!root || !json_object_object_get_ex(root, "sources", &arr)) {
		fprintf(stderr, "truthcheck: no sources in %s\n", argv[4]);
		return 1;
	}
	for (size_t i = 0; i < json_object_array_length(arr) && n < MAXS; i++) {
		json_object *s = json_object_array_get_idx(arr, i), *o;
		double ra = 0, dec = 0, flux = 0, alpha = 0;
		if (json_object_object_get_ex(s, "ra", &o))
			ra = json_object_get_double(o);
		if (json_object_object_get_ex(s, "dec", &o))
			dec = json_object_get_double(o);
		if (json_object_object_get_ex(s, "flux", &o))
			flux = json_object_get_double(o);
		if (json_object_object_get_ex(s, "alpha", &o))
			alpha = json_object_get_double(o);
		const char *name = json_object_object_get_ex(s, "name", &o) ? json_object_get_string(o)
									 : "?";
		double S = flux * pow(im.freq / 1.4e9, alpha);
		double world[4] = { ra, dec, im.freq, 1 }, pixc[4], imgc[4], phi, theta, w2[4];
		int stat[1];
		if (wcss2p(im.wcs, 1, 4, world, &phi, &theta, imgc, pixc, stat))
			continue;
		int px = (int)lround(pixc[0] - 1), py = (int)lround(pixc[1] - 1);
		if (px < 4 || py < 4 || px >= im.nx - 4 || py >= im.ny - 4)
			continue;
		double pbv = pb.pix[(size_t)py * im.nx + px];
		if (!isfinite(im.pix[(size_t)py * im.nx + px]) || !(S * pbv >= min_snr * sigma))
			continue;
		double x, y, pk;
		if (image_peak_fit(im.pix, (int)im.nx, (int)im.ny, px, py, 3, &x, &y, &pk) < 0)
			continue;
		double pp[4] = { x + 1, y + 1, pixc[2], pixc[3] };
		if (wcsp2s(im.wcs, 1, 4, pp, imgc, &phi, &theta, w2, stat))
			continue;
		double dra = remainder(w2[0] - ra, 360) * cos(dec * M_PI / 180) * 3600;
		double ddec = (w2[1] - dec) * 3600;
		offs[n] = hypot(dra, ddec);
		rats[n] = pk / S;
		printf("%-12s S %.4f Jy pb %.2f snr %.0f offset %.2f arcsec (dRA %+.2f dDec %+.2f) "
		       "ratio %.3f\n", name, S, pbv, S * pbv / sigma, offs[n], dra, ddec, rats[n]);
		if (S * pbv > best_s) {
			best_s = S * pbv;
			best_off = offs[n];
			best_rat = rats[n];
			snprintf(best, sizeof best, "%s", name);
		}
		n++;
	}
	json_object_put(root);
	printf("summary n %d median_offset_arcsec %.3f median_ratio %.4f brightest %s "
	       "offset_arcsec %.3f ratio %.4f noise_mjy %.4f\n", n, n ? median(offs, n) : NAN,
	       n ? median(rats, n) : NAN, best, best_off, best_rat, sigma * 1e3);
	free(im.pix);
	free(res.pix);
	free(pb.pix);
	wcsvfree(&im.nwcs, &im.wcs);
	return 0;
}
