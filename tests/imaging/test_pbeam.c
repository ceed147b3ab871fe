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

/* pbeam_at: the exact beam at positions equals pbeam_image's pixels; its
 * pointing derivative equals the Airy formula 2k (J2(x)/J1(x)) m/sin θ for one
 * integration and channel (m the north direction cosine from the pointing,
 * θ the separation), tends to (k²/2) (δ − δ_p) near the centre, and for the drift average equals a finite
 * difference of two pbeam_image runs 0.01° apart. */
static void test_at_and_pointing_derivative(void)
{
	static float pb[N * N], pbp[N * N], pbm[N * N];
	char err[ERR_LEN] = "";
	double jd = 2461100.786, lon = -118.2825 * M_PI / 180, dec_app = 54.9 * M_PI / 180;
	double freq = 1.4e9, k = M_PI * 4.65 * freq / 299792458.0, ra_p, worst = 0, worst_lin = 0;
	astro_frame f;

	astro_frame_init(&f, jd, lon, 0);
	ra_p = astro_frame_meridian_ra_cirs(&f);
	pbeam_params p1 = { .diam_m = 4.65, .ntimes = 1, .time_jd = &jd, .nchan = 1,
			    .freq_hz = &freq, .lon_rad = lon, .pointing_dec_rad = dec_app,
			    .nthreads = 2 };
	/* Offsets (east, north) in degrees from the pointing, in CIRS. */
	static const double off[][2] = { { 0, 1.0 }, { 0, -1.0 }, { 0.5, 0.5 }, { -0.8, -1.2 },
					 { 1.0, 0.05 }, { 0.3, -0.02 }, { 0, 0.02 } };
	int no = (int)(sizeof off / sizeof off[0]);
	for (int i = 0; i < no; i++) {
		double dc = dec_app + off[i][1] * M_PI / 180;
		double rc = ra_p - off[i][0] * M_PI / 180 / cos(dc), ra, dec, a, g;
		astro_frame_cirs_to_icrs(&f, rc, dc, &ra, &dec);
		CHECK_OK(pbeam_at(&p1, &ra, &dec, 1, &a, &g, err, sizeof err), err);
		double th = astro_separation(rc, dc, ra_p, dec_app), x = k * sin(th);
		/* m: the source's direction cosine towards north at the pointing,
		 * −∂θ/∂δ_p · sin θ exactly (≈ δ − δ_p only near the meridian). */
		double m = sin(dc) * cos(dec_app) - cos(dc) * sin(dec_app) * cos(rc - ra_p);
		double y = dc - dec_app, want = 2 * k * jn(2, x) / j1(x) * m / sin(th);
		/* pbeam works in ICRS, where aberration scales angles by ~1e-4. */
		CHECK_NEAR(a, beam_airy(sin(th), freq, 4.65), 5e-5);
		CHECK(fabs(g - want) < 2e-3 * fabs(want) + 1e-3, "offset (%g, %g): %g vs %g",
		      off[i][0], off[i][1], g, want);
		worst = fmax(worst, fabs(g - want) / fmax(fabs(want), 1));
		if (th < 0.1 * M_PI / 180)
			worst_lin = fmax(worst_lin, fabs(g - 0.5 * k * k * y) / (0.5 * k * k * fabs(y)));
	}
	CHECK(worst_lin < 1e-3, "near the centre: %g from (k^2/2) y", worst_lin);
	printf("# single integration: d ln pb / d dec_p vs 2k J2/J1 m/sin(theta): worst %.2g; "
	       "vs (k^2/2) y within 0.1 deg: %.2g (k^2/2 = %.4f per deg^2)\n", worst, worst_lin,
	       0.5 * k * k * pow(M_PI / 180, 2));

	/* The drift average (24 integrations, 3 channels) against pbeam_image. */
	double jds[24], freqs[3] = { 1.31e9, 1.40e9, 1.49e9 }, ra0, dec0, h = 0.01 * M_PI / 180;
	for (int t = 0; t < 24; t++)
		jds[t] = 2461100.786 + (t - 11.5) * 12.884901888 / 86400;
	astro_frame_cirs_to_icrs(&f, ra_p, dec_app, &ra0, &dec0);
	pbeam_params p = { .proj = { N, N, CELL, ra0, dec0, 0, 0 },
			   .diam_m = 4.65, .ntimes = 24, .time_jd = jds, .nchan = 3,
			   .freq_hz = freqs, .lon_rad = lon, .pointing_dec_rad = dec_app,
			   .nthreads = 2 };
	CHECK_OK(pbeam_image(&p, pb, err, sizeof err), err);
	p.pointing_dec_rad = dec_app + h;
	CHECK_OK(pbeam_image(&p, pbp, err, sizeof err), err);
	p.pointing_dec_rad = dec_app - h;
	CHECK_OK(pbeam_image(&p, pbm, err, sizeof err), err);
	p.pointing_dec_rad = dec_app;
	double dpb = 0, dder = 0;
	int nchk = 0;
	for (int iy = 3; iy < N; iy += 17)
		for (int ix = 5; ix < N; ix += 23) {
			size_t j = (size_t)iy * N + ix;
			double ra, dec, a, g;
			if (pb[j] < 0.2)
				continue;
			CHECK(proj_pix_to_radec(&p.proj, ix, iy, &ra, &dec) == 0);
			CHECK_OK(pbeam_at(&p, &ra, &dec, 1, &a, &g, err, sizeof err), err);
			double fd = (log(pbp[j]) - log(pbm[j])) / (2 * h);
			dpb = fmax(dpb, fabs(a - pb[j]));
			dder = fmax(dder, fabs(g - fd));
			nchk++;
		}
	printf("# drift average, %d pixels with pb >= 0.2: max |pb_at - pb_image| %.2g, "
	       "max |d ln pb/d dec_p - finite difference of pbeam_image| %.2g per rad\n", nchk, dpb,
	       dder);
	CHECK(nchk > 50, "%d pixels", nchk);
	CHECK(dpb < 2e-5, "%g", dpb);
	/* |∂ ln pb/∂δ_p| reaches ~60 per rad at pb 0.2; the table's 1e-5 error
	 * over the 2h = 3.5e-4 rad difference allows ~0.06 */
	CHECK(dder < 0.1, "%g", dder);
	/* A NULL output is allowed; no positions is fine. */
	CHECK_OK(pbeam_at(&p, &ra0, &dec0, 1, NULL, NULL, err, sizeof err), err);
	CHECK_OK(pbeam_at(&p, NULL, NULL, 0, NULL, NULL, err, sizeof err), err);
}

int main(void)
{
	RUN(test_single_time_exact);
	RUN(test_drift_average);
	RUN(test_at_and_pointing_derivative);
	return TEST_DONE();
}
