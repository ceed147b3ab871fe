/*
 * tests/imaging/test_pbeam.c — the drift-averaged primary beam: against the
 * Airy pattern evaluated directly for one integration and channel (pixels on
 * and between the interpolation nodes), the east–west symmetry of the drift
 * average about the mid-time meridian, and the pbcor cut.
 */
#include "core/astro.h"
#include "core/beam.h"
#include "core/err.h"
#include "imaging/pbeam.h"
#include "tests/test.h"

#define AS (M_PI / 648000.0)
#define N 200
#define CELL (60 * AS)

static void check_single(double cell, double xi, double eta)
{
	static float pb[N * N];
#undef CELL
#define CELL cell
	char err[ERR_LEN] = "";
	double jd = 2461100.786, lon = -118.2825 * M_PI / 180, dec_app = 54.9 * M_PI / 180;
	double freq = 1.4e9, ra_c, dec_c, ra0, dec0;
	astro_frame f;
	astro_frame_init(&f, jd, lon, 0);
	/* Image centre 0.3° away from the pointing, so the beam is asymmetric. */
	astro_frame_cirs_to_icrs(&f, astro_frame_meridian_ra_cirs(&f), dec_app, &ra_c, &dec_c);
	ra0 = ra_c + 0.5 * M_PI / 180;
	dec0 = dec_c - 0.2 * M_PI / 180;
	pbeam_params p = { .proj = { N, N, CELL, ra0, dec0, xi, eta },
			   .diam_m = 4.65, .ntimes = 1, .time_jd = &jd, .nchan = 1,
			   .freq_hz = &freq, .lon_rad = lon, .pointing_dec_rad = dec_app,
			   .nthreads = 2 };
	CHECK_OK(pbeam_image(&p, pb, err, sizeof err), err);
	double maxd = 0;
	for (int iy = 0; iy < N; iy += 13)
		for (int ix = 0; ix < N; ix += 7) {
			double ra, dec;
			CHECK(proj_pix_to_radec(&p.proj, ix, iy, &ra, &dec) == 0);
			double th = astro_separation(ra, dec, ra_c, dec_c);
			double a = beam_airy(sin(th), freq, 4.65);
			maxd = fmax(maxd, fabs(pb[iy * N + ix] - a));
		}
	printf("# single integration, cell %.0f\", slant (%g, %g): max |pb - Airy| = %.2g\n",
	       cell / AS, xi, eta, maxd);
	CHECK(maxd < 2e-5, "max difference %g", maxd);
	/* Pixel ↔ ICRS round trip. */
	double ra, dec, x, y;
	CHECK(proj_pix_to_radec(&p.proj, 37.25, 150.5, &ra, &dec) == 0);
	CHECK(proj_radec_to_pix(&p.proj, ra, dec, &x, &y) == 0);
	CHECK_NEAR(x, 37.25, 1e-8);
	CHECK_NEAR(y, 150.5, 1e-8);
}
#undef CELL
#define CELL (60 * AS)

static void test_single_time_exact(void)
{
	check_single(60 * AS, 0, 0); /* every pixel evaluated */
	check_single(4 * AS, 0, 0);  /* interpolated between nodes 28" apart */
	check_single(60 * AS, 0.05, -0.6); /* a slant projection (imaging/proj.h) */
}

static void test_drift_average(void)
{
	static float pb[N * N], cor[N * N];
	char err[ERR_LEN] = "";
	double jd[24], freq[3] = { 1.31e9, 1.40e9, 1.49e9 }, lon = -118.2825 * M_PI / 180;
	double dec_app = 54.9 * M_PI / 180, ra0, dec0;
	for (int t = 0; t < 24; t++)
		jd[t] = 2461100.786 + (t - 11.5) * 12.884901888 / 86400;
	astro_frame f;
	astro_frame_init(&f, 2461100.786, lon, 0);
	astro_frame_cirs_to_icrs(&f, astro_frame_meridian_ra_cirs(&f), dec_app, &ra0, &dec0);
	pbeam_params p = { .proj = { N, N, CELL, ra0, dec0, 0, 0 },
			   .diam_m = 4.65, .ntimes = 24, .time_jd = jd, .nchan = 3,
			   .freq_hz = freq, .lon_rad = lon, .pointing_dec_rad = dec_app,
			   .nthreads = 2 };
	CHECK_OK(pbeam_image(&p, pb, err, sizeof err), err);
	/* The pointing moves 1.25° in RA over the group: the centre is below 1
	 * and the beam is symmetric east–west about the mid-time meridian. */
	float c = pb[(N / 2) * N + N / 2];
	CHECK(c > 0.97 && c < 0.999, "centre %g", c);
	double asym = 0;
	for (int d = 1; d < N / 2; d += 9)
		asym = fmax(asym, fabs(pb[(N / 2) * N + N / 2 + d] - pb[(N / 2) * N + N / 2 - d]));
	CHECK(asym < 2e-3, "east-west asymmetry %g", asym);
	/* Longer than a single-time beam along RA (the drift widens it). */
	CHECK(pb[(N / 2) * N + N / 2 + 60] > pb[(N / 2 + 60) * N + N / 2] - 0.02);
	pbeam_correct(pb, pb, N * N, 0.2, cor);
	for (int j = 0; j < N * N; j += 97) {
		if (pb[j] >= 0.2)
			CHECK_NEAR(cor[j], 1, 1e-6);
		else
			CHECK(isnan(cor[j]), "pixel %d pb %g not blanked", j, pb[j]);
	}
}

int main(void)
{
	RUN(test_single_time_exact);
	RUN(test_drift_average);
	return TEST_DONE();
}
