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
#include "tests/imaging/refmeasure.h"

/* The pixels of the first image of a FITS file into *ret[*nx × *ny]. */
static int read_pixels(const char *path, float **ret, long *nx, long *ny)
{
	fitsfile *f = NULL;
	int st = 0, naxis = 0;
	long naxes[4] = { 1, 1, 1, 1 }, first[4] = { 1, 1, 1, 1 };

	*ret = NULL;
	if (fits_open_file(&f, path, READONLY, &st) || fits_get_img_dim(f, &naxis, &st) ||
	    naxis < 2 || fits_get_img_size(f, 4, naxes, &st)) {
		fprintf(stderr, "truthcheck: cannot read %s (status %d)\n", path, st);
		fits_close_file(f, &st);
		return -1;
	}
	*nx = naxes[0];
	*ny = naxes[1];
	*ret = malloc((size_t)*nx * *ny * sizeof **ret);
	if (!*ret || fits_read_pix(f, TFLOAT, first, *nx * *ny, NULL, *ret, NULL, &st)) {
		fprintf(stderr, "truthcheck: cannot read %s (status %d)\n", path, st);
		fits_close_file(f, &st);
		return -1;
	}
	fits_close_file(f, &st);
	return 0;
}

int main(int argc, char **argv)
{
	float *im = NULL, *res = NULL, *pb = NULL;
	long nx, ny, rx, ry, px_, py_;
	truth_src src[MAXSRC];
	double offs[MAXSRC], rats[MAXSRC], best_s = -1, best_off = NAN, best_rat = NAN, sigma_vis;
	const char *best = "-";
	int n = 0, nsrc = 0, nwcs = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: truthcheck PBCOR.fits RESIDUAL.fits PB.fits TRUTH.json MIN_SNR\n");
		return 1;
	}
	double min_snr = atof(argv[5]);
	struct wcsprm *w = read_wcs(argv[1], &nwcs);
	if (!w || nwcs < 1 || w->naxis < 3) {
		fprintf(stderr, "truthcheck: no usable WCS in %s\n", argv[1]);
		return 1;
	}
	double freq = w->crval[2];
	if (read_pixels(argv[1], &im, &nx, &ny) || read_pixels(argv[2], &res, &rx, &ry) ||
	    read_pixels(argv[3], &pb, &px_, &py_))
		return 1;
	if (rx != nx || ry != ny || px_ != nx || py_ != ny) {
		fprintf(stderr, "truthcheck: the images differ in size\n");
		return 1;
	}
	/* Noise: 1.4826 MAD of the residual (every 7th pixel). */
	size_t npix = (size_t)nx * ny, m = 0;
	double *a = malloc((npix / 7 + 1) * sizeof *a);
	if (!a)
		return 1;
	for (size_t i = 0; i < npix; i += 7)
		if (isfinite(res[i]))
			a[m++] = res[i];
	double med = median(a, (int)m);
	for (size_t i = 0; i < m; i++)
		a[i] = fabs(a[i] - med);
	double sigma = 1.4826 * median(a, (int)m);
	free(a);

	if (read_truth(argv[4], src, &nsrc, &sigma_vis) < 0 || nsrc == 0) {
		fprintf(stderr, "truthcheck: no sources in %s\n", argv[4]);
		return 1;
	}
	for (int i = 0; i < nsrc; i++) {
		const truth_src *t = &src[i];
		double S = t->flux * pow(freq / 1.4e9, t->alpha);
		double world[4] = { t->ra_deg, t->dec_deg, freq, 1 }, pixc[4], imgc[4], phi, theta;
		double w2[4];
		int stat[1];
		if (wcss2p(w, 1, 4, world, &phi, &theta, imgc, pixc, stat))
			continue;
		int px = (int)lround(pixc[0] - 1), py = (int)lround(pixc[1] - 1);
		if (px < 4 || py < 4 || px >= nx - 4 || py >= ny - 4)
			continue;
		double pbv = pb[(size_t)py * nx + px];
		if (!isfinite(im[(size_t)py * nx + px]) || !(S * pbv >= min_snr * sigma))
			continue;
		double x, y, pk;
		if (image_peak_fit(im, (int)nx, (int)ny, px, py, 3, &x, &y, &pk) < 0)
			continue;
		double pp[4] = { x + 1, y + 1, pixc[2], pixc[3] };
		if (wcsp2s(w, 1, 4, pp, imgc, &phi, &theta, w2, stat))
			continue;
		double dra = remainder(w2[0] - t->ra_deg, 360) * cos(t->dec_deg * M_PI / 180) * 3600;
		double ddec = (w2[1] - t->dec_deg) * 3600;
		offs[n] = hypot(dra, ddec);
		rats[n] = pk / S;
		printf("%-12s S %.4f Jy pb %.2f snr %.0f offset %.2f arcsec (dRA %+.2f dDec %+.2f) "
		       "ratio %.3f\n", t->name, S, pbv, S * pbv / sigma, offs[n], dra, ddec, rats[n]);
		if (S * pbv > best_s) {
			best_s = S * pbv;
			best_off = offs[n];
			best_rat = rats[n];
			best = t->name;
		}
		n++;
	}
	printf("summary n %d median_offset_arcsec %.3f median_ratio %.4f brightest %s "
	       "offset_arcsec %.3f ratio %.4f noise_mjy %.4f\n", n, n ? median(offs, n) : NAN,
	       n ? median(rats, n) : NAN, best, best_off, best_rat, sigma * 1e3);
	free(im);
	free(res);
	free(pb);
	wcsvfree(&nwcs, &w);
	return 0;
}
