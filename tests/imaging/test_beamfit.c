/*
 * tests/imaging/test_beamfit.c — the restoring-beam fit on PSFs of known
 * shape, and restoration.  The Gaussians are drawn here from the FITS
 * definitions (FWHM axes; BPA from north through east; east = −x), not with
 * beamfit_gauss, so a sign or axis mistake in the fit shows.
 */
#include "core/err.h"
#include "imaging/beamfit.h"
#include "tests/test.h"

#define AS (M_PI / 648000.0)
#define NX 96
#define NY 80

static void draw(float *img, double bmaj, double bmin, double pa, double cell, double x0,
		 double y0, double amp, int add_sidelobes)
{
	for (int iy = 0; iy < NY; iy++)
		for (int ix = 0; ix < NX; ix++) {
			/* Offsets east (l) and north (m) in radians. */
			double l = -(ix - x0) * cell, m = (iy - y0) * cell;
			/* Unit vector of the major axis on the sky: (east, north) = (sin pa, cos pa). */
			double a = l * sin(pa) + m * cos(pa), b = l * cos(pa) - m * sin(pa);
			double v = amp * exp(-4 * log(2) * (a * a / (bmaj * bmaj) + b * b / (bmin * bmin)));
			if (add_sidelobes) {
				/* A negative ring outside the main lobe, as a real PSF has. */
				double r = hypot(a / bmaj, b / bmin);
				v -= 0.15 * exp(-pow((r - 1.6) / 0.3, 2));
			}
			img[iy * NX + ix] += (float)v;
		}
}

static void check_fit(double bmaj_as, double bmin_as, double pa_deg, int side)
{
	static float psf[NX * NY];
	char err[ERR_LEN] = "";
	beamfit_beam b = { 0 };
	memset(psf, 0, sizeof psf);
	draw(psf, bmaj_as * AS, bmin_as * AS, pa_deg * M_PI / 180, 3 * AS, NX / 2, NY / 2, 1, side);
	CHECK_OK(beamfit_psf(psf, NX, NY, 3 * AS, &b, err, sizeof err), err);
	printf("# %.0f\" x %.0f\" pa %.0f -> %.2f\" x %.2f\" pa %.2f\n", bmaj_as, bmin_as, pa_deg,
	       b.bmaj_rad / AS, b.bmin_rad / AS, b.bpa_rad * 180 / M_PI);
	double tol = side ? 0.03 : 1e-3;
	CHECK(fabs(b.bmaj_rad / AS / bmaj_as - 1) < tol, "bmaj %g", b.bmaj_rad / AS);
	CHECK(fabs(b.bmin_rad / AS / bmin_as - 1) < tol, "bmin %g", b.bmin_rad / AS);
	if (bmaj_as > bmin_as * 1.05) {
		double dpa = remainder(b.bpa_rad * 180 / M_PI - pa_deg, 180);
		CHECK(fabs(dpa) < (side ? 2 : 0.1), "pa %g vs %g", b.bpa_rad * 180 / M_PI, pa_deg);
	}
}

static void test_fit_gaussian(void)
{
	check_fit(42, 21, 0, 0);
	check_fit(42, 21, 30, 0);
	check_fit(42, 21, -60, 0);
	check_fit(40, 18, 90, 0);
	check_fit(25, 25, 0, 0);
}

static void test_fit_with_sidelobes(void)
{
	/* The fit uses the main lobe only: a negative ring must not bias it much. */
	check_fit(42, 21, 30, 1);
}

static void test_box_fit(void)
{
	/* On a Gaussian the box fit agrees with the truth; with a positive
	 * shoulder around the core (a sparse array's near sidelobes) it is wider
	 * than the main-lobe fit, as WSClean's is. */
	static float psf[NX * NY];
	char err[ERR_LEN] = "";
	beamfit_beam b, b0;
	memset(psf, 0, sizeof psf);
	draw(psf, 42 * AS, 21 * AS, 30 * M_PI / 180, 3 * AS, NX / 2, NY / 2, 1, 0);
	CHECK_OK(beamfit_psf(psf, NX, NY, 3 * AS, &b, err, sizeof err), err);
	b.bmaj_rad *= 1.2; /* start off the answer */
	b.bpa_rad += 0.2;
	CHECK_OK(beamfit_psf_box(psf, NX, NY, 3 * AS, 15 * AS, 10, &b, err, sizeof err), err);
	CHECK(fabs(b.bmaj_rad / AS - 42) < 0.01 && fabs(b.bmin_rad / AS - 21) < 0.01 &&
		      fabs(b.bpa_rad * 180 / M_PI - 30) < 0.01,
	      "box fit %g x %g pa %g", b.bmaj_rad / AS, b.bmin_rad / AS, b.bpa_rad * 180 / M_PI);
	draw(psf, 80 * AS, 60 * AS, 30 * M_PI / 180, 3 * AS, NX / 2, NY / 2, 0.3, 0);
	CHECK_OK(beamfit_psf(psf, NX, NY, 3 * AS, &b0, err, sizeof err), err);
	b = b0;
	CHECK_OK(beamfit_psf_box(psf, NX, NY, 3 * AS, 15 * AS, 10, &b, err, sizeof err), err);
	printf("# shoulder: main lobe %.1f\" x %.1f\", box %.1f\" x %.1f\"\n", b0.bmaj_rad / AS,
	       b0.bmin_rad / AS, b.bmaj_rad / AS, b.bmin_rad / AS);
	CHECK(b.bmin_rad > b0.bmin_rad * 1.05);
}

static void test_fit_refuses_bad_psf(void)
{
	static float psf[NX * NY];
	char err[ERR_LEN] = "";
	beamfit_beam b;
	memset(psf, 0, sizeof psf);
	CHECK(beamfit_psf(psf, NX, NY, 3 * AS, &b, err, sizeof err) == -EINVAL);
	/* A single bright pixel: an undersampled PSF has too few lobe pixels. */
	psf[(NY / 2) * NX + NX / 2] = 1;
	CHECK(beamfit_psf(psf, NX, NY, 3 * AS, &b, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "main lobe") != NULL, "%s", err);
}

static void test_restore(void)
{
	static float img[NX * NY], model[NX * NY], expect[NX * NY];
	beamfit_beam b = { 30 * AS, 15 * AS, 20 * M_PI / 180 };
	memset(img, 0, sizeof img);
	memset(model, 0, sizeof model);
	memset(expect, 0, sizeof expect);
	model[40 * NX + 50] = 2.0f;
	model[20 * NX + 30] = -0.5f;
	draw(expect, b.bmaj_rad, b.bmin_rad, b.bpa_rad, 3 * AS, 50, 40, 2.0, 0);
	draw(expect, b.bmaj_rad, b.bmin_rad, b.bpa_rad, 3 * AS, 30, 20, -0.5, 0);
	beamfit_restore(img, model, NX, NY, 3 * AS, &b, 2);
	double maxd = 0;
	for (int j = 0; j < NX * NY; j++)
		maxd = fmax(maxd, fabs(img[j] - expect[j]));
	CHECK(maxd < 1e-4, "max difference %g", maxd);
	CHECK_NEAR(img[40 * NX + 50], 2.0, 1e-5);
	CHECK_NEAR(beamfit_gauss(&b, 0, 0), 1.0, 1e-12);
	/* Half power at half the FWHM along the major axis (PA 20° east of north). */
	CHECK_NEAR(beamfit_gauss(&b, 15 * AS * sin(b.bpa_rad), 15 * AS * cos(b.bpa_rad)), 0.5,
		   1e-9);
}

int main(void)
{
	RUN(test_fit_gaussian);
	RUN(test_fit_with_sidelobes);
	RUN(test_box_fit);
	RUN(test_fit_refuses_bad_psf);
	RUN(test_restore);
	return TEST_DONE();
}
