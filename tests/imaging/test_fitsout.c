/*
 * tests/imaging/test_fitsout.c — the FITS products read back by independent
 * readers: CFITSIO for the keywords, WCSLIB (wcspih/wcsp2s/wcss2p) for the
 * coordinates — compared with the SIN definition through astro_lmn — and
 * Debian's fitsverify, which must report no warnings and no errors.
 */
#include <fitsio.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>

#include "core/astro.h"
#include "core/err.h"
#include "imaging/fitsout.h"
#include "tests/test.h"

#define AS (M_PI / 648000.0)
#define NX 64
#define NY 48

static image_result *fake_result(void)
{
	image_result *r = calloc(1, sizeof *r);
	size_t n = (size_t)NX * NY;
	if (!r)
		return NULL;
	r->nx = NX;
	r->ny = NY;
	r->cell_rad = 20 * AS;
	r->ra0_rad = 143.6721 * M_PI / 180;
	r->dec0_rad = 54.9 * M_PI / 180;
	/* image_result_free gives the images back to r->pool (NULL here). */
	r->image = pool_get_zero(NULL, n * sizeof(float));
	r->residual = pool_get_zero(NULL, n * sizeof(float));
	r->psf = pool_get_zero(NULL, n * sizeof(float));
	r->model = pool_get_zero(NULL, n * sizeof(float));
	r->pb = pool_get_zero(NULL, n * sizeof(float));
	r->pbcor = pool_get_zero(NULL, n * sizeof(float));
	for (size_t j = 0; j < n; j++) {
		r->image[j] = (float)j;
		r->pb[j] = 0.5f;
		r->pbcor[j] = j % 7 ? (float)j : NAN;
	}
	r->pb_cut = 0.2;
	r->pointing_dec_rad = 40.2 * M_PI / 180;
	r->beam = (beamfit_beam){ 42 * AS, 21 * AS, -10 * M_PI / 180 };
	r->noise_jy = 1.1e-3;
	r->peak_jy = 0.36;
	r->dynamic_range = 327;
	r->freq_hz = 1.405e9;
	r->bandwidth_hz = 1.875e8;
	r->jd_start = 2461100.7848;
	r->jd_mid = 2461100.7867;
	r->exposure_s = 309.2;
	r->weighting = WEIGHT_BRIGGS;
	snprintf(r->weighting_desc, sizeof r->weighting_desc, "briggs 0");
	r->clean.iterations = 1234;
	r->clean.major_cycles = 5;
	r->clean.stop = "threshold";
	snprintf(r->group, sizeof r->group, "2026-03-01T06:50:09");
	snprintf(r->telescope, sizeof r->telescope, "DSA-110");
	return r;
}

static void check_keywords_and_wcs(double xi, double eta)
{
	char err[ERR_LEN] = "", path[1024], cmd[2300];
	image_result *r = fake_result();
	if (!r)
		return;
	r->xi = xi;
	r->eta = eta;
	for (int p = 0; p < FITSOUT_NPRODUCTS; p++) {
		snprintf(path, sizeof path, "%s/%s.fits", test_tmpdir(), fitsout_product_name(p));
		CHECK_OK(fitsout_write(path, r, p, 1, err, sizeof err), err);
		/* fitsverify (HEASARC) must be clean. */
		snprintf(cmd, sizeof cmd, "fitsverify -q '%s' 2>&1", path);
		FILE *f = popen(cmd, "r");
		char line[512] = "";
		if (f) {
			if (!fgets(line, sizeof line, f))
				line[0] = 0;
			pclose(f);
		}
		CHECK(strstr(line, "verification OK") != NULL, "fitsverify %s: %s", path, line);
		if (strstr(line, "verification OK"))
			printf("# %s", line);
		/* No temporary file left behind. */
		snprintf(cmd, sizeof cmd, "%s.tmp%ld", path, (long)getpid());
		CHECK(access(cmd, F_OK) != 0, "temporary %s left", cmd);
	}

	snprintf(path, sizeof path, "%s/image.fits", test_tmpdir());
	fitsfile *f = NULL;
	int st = 0, nkeys = 0, nrej = 0, nwcs = 0, calib = 0, niter = 0;
	char bunit[80] = "", radesys[80] = "", object[80] = "", ctype3[80] = "", ctype4[80] = "";
	double bmaj = 0, bmin = 0, bpa = 0, crval3 = 0, cdelt3 = 0, mjd = 0, equinox = 0;
	double pv21 = 0, pv22 = 0;
	float pix[NX];
	fits_open_file(&f, path, READONLY, &st);
	fits_read_key(f, TSTRING, "BUNIT", bunit, NULL, &st);
	fits_read_key(f, TSTRING, "RADESYS", radesys, NULL, &st);
	fits_read_key(f, TSTRING, "OBJECT", object, NULL, &st);
	fits_read_key(f, TSTRING, "CTYPE3", ctype3, NULL, &st);
	fits_read_key(f, TSTRING, "CTYPE4", ctype4, NULL, &st);
	fits_read_key(f, TDOUBLE, "BMAJ", &bmaj, NULL, &st);
	fits_read_key(f, TDOUBLE, "BMIN", &bmin, NULL, &st);
	fits_read_key(f, TDOUBLE, "BPA", &bpa, NULL, &st);
	fits_read_key(f, TDOUBLE, "CRVAL3", &crval3, NULL, &st);
	fits_read_key(f, TDOUBLE, "CDELT3", &cdelt3, NULL, &st);
	fits_read_key(f, TDOUBLE, "MJD-OBS", &mjd, NULL, &st);
	fits_read_key(f, TDOUBLE, "EQUINOX", &equinox, NULL, &st);
	fits_read_key(f, TLOGICAL, "CALIB", &calib, NULL, &st);
	fits_read_key(f, TINT, "NITER", &niter, NULL, &st);
	double pntdec = 0;
	fits_read_key(f, TDOUBLE, "PNTDEC", &pntdec, NULL, &st);
	CHECK_NEAR(pntdec, 40.2, 1e-12);
	if (xi != 0 || eta != 0) {
		fits_read_key(f, TDOUBLE, "PV2_1", &pv21, NULL, &st);
		fits_read_key(f, TDOUBLE, "PV2_2", &pv22, NULL, &st);
	} else {
		/* An orthographic image carries no PV keywords at all. */
		int s2 = 0;
		fits_read_key(f, TDOUBLE, "PV2_1", &pv21, NULL, &s2);
		CHECK(s2 == KEY_NO_EXIST, "PV2_1 written for an orthographic image");
	}
	long fpix[4] = { 1, 2, 1, 1 };
	fits_read_pix(f, TFLOAT, fpix, NX, NULL, pix, NULL, &st);
	CHECK(st == 0, "CFITSIO status %d", st);
	CHECK(!strcmp(bunit, "JY/BEAM"), "%s", bunit);
	CHECK(!strcmp(radesys, "ICRS"), "%s", radesys);
	CHECK(!strcmp(object, "2026-03-01T06:50:09"), "%s", object);
	CHECK(!strcmp(ctype3, "FREQ") && !strcmp(ctype4, "STOKES"));
	CHECK_NEAR(bmaj, 42.0 / 3600, 1e-12);
	CHECK_NEAR(bmin, 21.0 / 3600, 1e-12);
	CHECK_NEAR(bpa, -10, 1e-9);
	CHECK_NEAR(crval3, 1.405e9, 1e-3);
	CHECK_NEAR(cdelt3, 1.875e8, 1e-3);
	CHECK_NEAR(mjd, 2461100.7848 - 2400000.5, 1e-9);
	CHECK_NEAR(equinox, 2000, 0);
	CHECK(calib == 1 && niter == 1234);
	CHECK(pix[5] == (float)(NX + 5), "row 2 pixel 6 = %g", pix[5]);
	CHECK(pv21 == xi && pv22 == eta, "PV2_1 %g PV2_2 %g", pv21, pv22);

	/* WCSLIB: pixel → world must be the (slant) SIN projection about the
	 * centre with east to the left: X = −(x − nx/2)·cell = l + ξ(1 − n),
	 * Y = (y − ny/2)·cell = m + η(1 − n) (0-based). */
	char *hdr = NULL;
	struct wcsprm *w = NULL;
	fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st);
	CHECK(wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, &nwcs, &w) == 0 && nwcs == 1 && nrej == 0,
	      "wcspih: nwcs %d nrej %d", nwcs, nrej);
	if (w && wcsset(w) == 0) {
		double maxerr = 0, maxrt = 0;
		for (int y = 0; y < NY; y += 7)
			for (int x = 0; x < NX; x += 9) {
				double pc[4] = { x + 1, y + 1, 1, 1 }, img[4], phi, theta, world[4],
				       back[4];
				int stat = 0;
				CHECK(wcsp2s(w, 1, 4, pc, img, &phi, &theta, world, &stat) == 0);
				double l, m, n;
				astro_lmn(world[0] * M_PI / 180, world[1] * M_PI / 180, r->ra0_rad,
					  r->dec0_rad, &l, &m, &n);
				double t = 1 - n;
				maxerr = fmax(maxerr, hypot(l + xi * t + (x - NX / 2) * r->cell_rad,
							    m + eta * t - (y - NY / 2) * r->cell_rad));
				CHECK(wcss2p(w, 1, 4, world, &phi, &theta, img, back, &stat) == 0);
				maxrt = fmax(maxrt, hypot(back[0] - pc[0], back[1] - pc[1]));
				/* And our own pixel ↔ ICRS (used by photometry) agrees. */
				double ra, dec, bx, by;
				CHECK(image_pix_to_radec(r, x, y, &ra, &dec) == 0);
				maxerr = fmax(maxerr, astro_separation(ra, dec, world[0] * M_PI / 180,
								       world[1] * M_PI / 180));
				CHECK(image_radec_to_pix(r, ra, dec, &bx, &by) == 0);
				maxrt = fmax(maxrt, hypot(bx - x, by - y));
				CHECK_NEAR(world[2], 1.405e9, 1e-3);
				CHECK_NEAR(world[3], 1, 0);
			}
		printf("# WCSLIB vs SIN definition (slant %g, %g): max %.2g rad; pixel round trip "
		       "max %.2g px\n", xi, eta, maxerr, maxrt);
		CHECK(maxerr < 1e-11, "WCS disagrees with the SIN definition by %g rad", maxerr);
		CHECK(maxrt < 1e-8, "round trip %g px", maxrt);
		/* East is left: increasing x lowers RA. */
		double p1[4] = { 10, 20, 1, 1 }, p2[4] = { 11, 20, 1, 1 }, im[4], ph, th, w1[4],
		       w2[4];
		int s1 = 0;
		wcsp2s(w, 1, 4, p1, im, &ph, &th, w1, &s1);
		wcsp2s(w, 1, 4, p2, im, &ph, &th, w2, &s1);
		CHECK(w2[0] < w1[0], "RA must decrease to the right");
	}
	if (w)
		wcsvfree(&nwcs, &w);
	if (hdr)
		fits_free_memory(hdr, &st);
	fits_close_file(f, &st);
	image_result_free(r);
}

static void test_keywords_and_wcs(void)
{
	check_keywords_and_wcs(0, 0);
	/* A strong slant (a coplanar array 40° from the zenith), for which the
	 * corners of this 21' image move ~3" from their orthographic place. */
	check_keywords_and_wcs(0.12, -0.84);
}

static void test_bad_path(void)
{
	char err[ERR_LEN] = "";
	image_result *r = fake_result();
	if (!r)
		return;
	CHECK(fitsout_write("/nonexistent-dir/x.fits", r, FITSOUT_IMAGE, 0, err, sizeof err) == -EIO);
	CHECK(strstr(err, "nonexistent") != NULL, "%s", err);
	CHECK(fitsout_write("/tmp/x.fits", r, 42, 0, err, sizeof err) == -EINVAL);
	image_result_free(r);
}

int main(void)
{
	RUN(test_keywords_and_wcs);
	RUN(test_bad_path);
	return TEST_DONE();
}
