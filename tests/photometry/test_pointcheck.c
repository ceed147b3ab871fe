/*
 * tests/photometry/test_pointcheck.c — the pointing-offset estimator on
 * simulated flux ratios.  The "measured" fluxes are made with the exact
 * drift-averaged Airy beam (imaging/pbeam.h) at the true pointing and
 * corrected with the beam of the pointing used, times a flux-scale error and
 * Gaussian scatter, so the estimator's linear model is tested against the
 * beam, not against itself:
 *   - a known Δδ is recovered within its error, and the error bars are right
 *     (pulls over 200 noise realisations have mean ~0 and std ~1);
 *   - noise-free ratios give the model's bias from the Airy terms it leaves out;
 *   - zero offset: no warning in 200 realisations; an offset below the
 *     threshold: measured, no warning;
 *   - an outlier is clipped; too few sources or one side only: no fit.
 */
#include <stdint.h>

#include "core/astro.h"
#include "core/err.h"
#include "imaging/pbeam.h"
#include "photometry/pointcheck.h"
#include "tests/test.h"

#define DEG (M_PI / 180.0)
#define NSRC 30
#define NT 24

/* xorshift64: uniform in (0, 1), and Box–Muller normal deviates. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double urand(void) { return test_urand(&rng); }

static double grand(void) { return test_grand(&rng); }

/* One field: NSRC sources in the beam of a drift at dec_app, their z and
 * their beam ratio pb(δ_p + Δδ)/pb(δ_p) for the true offset. */
typedef struct field {
	double ra[NSRC], dec[NSRC], z[NSRC], gain[NSRC], ddec_deg[NSRC];
	double jd[NT], freq[3];
	pbeam_params p;
} field;

static int make_field(field *fl, double true_offset_rad)
{
	char err[ERR_LEN] = "";
	double lon = -118.2825 * DEG, dec_app = 40.0 * DEG, ra0, dec0, pbu[NSRC], pbt[NSRC];
	astro_frame f;

	for (int t = 0; t < NT; t++)
		fl->jd[t] = 2461100.786 + (t - 11.5) * 12.884901888 / 86400;
	fl->freq[0] = 1.32e9;
	fl->freq[1] = 1.405e9;
	fl->freq[2] = 1.49e9;
	astro_frame_init(&f, 2461100.786, lon, 0);
	astro_frame_cirs_to_icrs(&f, astro_frame_meridian_ra_cirs(&f), dec_app, &ra0, &dec0);
	pbeam_params p = { .diam_m = 4.65, .ntimes = NT, .time_jd = fl->jd, .nchan = 3,
			   .freq_hz = fl->freq, .lon_rad = lon, .pointing_dec_rad = dec_app,
			   .nthreads = 1 };
	fl->p = p;
	/* Uniform in a disc of 1.6° (pb >= ~0.25), away from the centre. */
	for (int i = 0; i < NSRC; i++) {
		double r = 1.6 * sqrt(0.05 + 0.95 * urand()) * DEG, a = 2 * M_PI * urand();
		fl->dec[i] = dec0 + r * cos(a);
		fl->ra[i] = ra0 + r * sin(a) / cos(fl->dec[i]);
		fl->ddec_deg[i] = (fl->dec[i] - dec0) / DEG;
	}
	if (pbeam_at(&fl->p, fl->ra, fl->dec, NSRC, pbu, fl->z, err, sizeof err))
		return -1;
	fl->p.pointing_dec_rad = dec_app + true_offset_rad;
	if (pbeam_at(&fl->p, fl->ra, fl->dec, NSRC, pbt, NULL, err, sizeof err))
		return -1;
	fl->p.pointing_dec_rad = dec_app;
	for (int i = 0; i < NSRC; i++)
		fl->gain[i] = pbt[i] / pbu[i];
	return 0;
}

/* Ratios = gain × scale × (1 + rel·N(0,1)), errors 1 %. */
static void ratios(const field *fl, double scale, double rel, pointcheck_source *s)
{
	for (int i = 0; i < NSRC; i++) {
		s[i].ratio = fl->gain[i] * scale * (1 + rel * grand());
		s[i].ratio_err = 0.01 * s[i].ratio;
		s[i].dlnpb_ddec = fl->z[i];
	}
}

static void test_recovers_offset(void)
{
	static const double truth_deg[] = { 0.2, -0.2, 0.1 };
	pointcheck_params pp;
	pointcheck_params_default(&pp);
	for (int k = 0; k < 3; k++) {
		field fl;
		pointcheck_source s[NSRC];
		pointcheck_result r;
		double truth = truth_deg[k] * DEG;
		CHECK(make_field(&fl, truth) == 0);

		/* Noise-free: the bias of the linear model on the Airy beam. */
		ratios(&fl, 0.97, 0, s);
		CHECK_OK(pointcheck_fit(s, NSRC, &pp, &r), "");
		CHECK(r.status == POINTCHECK_OK);
		double bias = (r.offset_rad - truth) / DEG;
		printf("# true %+.2f deg: noise-free fit %+.4f deg (bias %+.4f deg, %.1f %%), "
		       "scale %.4f (true 0.97 x pb ratio at the centre)\n", truth_deg[k],
		       r.offset_rad / DEG, bias, 100 * bias / truth_deg[k], r.scale);
		CHECK(fabs(bias) < 0.05 * fabs(truth_deg[k]), "bias %g deg", bias);

		/* 3 % scatter: within the error, and warned. */
		ratios(&fl, 0.97, 0.03, s);
		CHECK_OK(pointcheck_fit(s, NSRC, &pp, &r), "");
		printf("# true %+.2f deg, 3 %% scatter: %+.4f +- %.4f deg, %d used (%d N, %d S), "
		       "chi2_nu %.2f, %.1f sigma, warn %d\n", truth_deg[k], r.offset_rad / DEG,
		       r.offset_err_rad / DEG, r.nused, r.nnorth, r.nsouth, r.chi2_nu,
		       r.significance, r.warn);
		CHECK(r.status == POINTCHECK_OK && r.nused == NSRC);
		CHECK(fabs(r.offset_rad - truth) < 3 * r.offset_err_rad, "%g +- %g vs %g",
		      r.offset_rad / DEG, r.offset_err_rad / DEG, truth_deg[k]);
		CHECK(r.offset_err_rad < 0.05 * DEG, "error %g deg", r.offset_err_rad / DEG);
		CHECK(r.warn == 1);
		CHECK(r.nnorth > 0 && r.nsouth > 0 && r.nnorth + r.nsouth == r.nused);
	}
}

/* The error bar: over 200 noise realisations the pulls (fit − truth)/σ
 * have mean ~0 and standard deviation ~1, with 3 % scatter. */
static void test_error_calibration(void)
{
	pointcheck_params pp;
	field fl;
	double truth = 0.15 * DEG, s1 = 0, s2 = 0;
	int n = 0, warned = 0;

	pointcheck_params_default(&pp);
	CHECK(make_field(&fl, truth) == 0);
	for (int k = 0; k < 200; k++) {
		pointcheck_source s[NSRC];
		pointcheck_result r;
		ratios(&fl, 1.0, 0.03, s);
		CHECK_OK(pointcheck_fit(s, NSRC, &pp, &r), "");
		if (r.status != POINTCHECK_OK)
			continue;
		double pull = (r.offset_rad - truth) / r.offset_err_rad;
		s1 += pull;
		s2 += pull * pull;
		warned += r.warn;
		n++;
	}
	double mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
	printf("# 200 realisations at +0.15 deg: pull mean %+.3f std %.3f; warned %d\n", mean, sd,
	       warned);
	CHECK(n == 200);
	CHECK(fabs(mean) < 0.25, "pull mean %g", mean);
	CHECK(sd > 0.8 && sd < 1.25, "pull std %g", sd);
	CHECK(warned >= 190, "warned %d of 200", warned);
}

/* No offset: no warning in 200 realisations; 0.03° (below the 0.05°
 * threshold) measured at high signal-to-noise: no warning either. */
static void test_no_false_alarm(void)
{
	pointcheck_params pp;
	field fl0, fl3;
	int warned0 = 0, warned3 = 0;
	double s0 = 0, s3 = 0, e0 = 0;

	pointcheck_params_default(&pp);
	CHECK(make_field(&fl0, 0) == 0);
	CHECK(make_field(&fl3, 0.03 * DEG) == 0);
	for (int k = 0; k < 200; k++) {
		pointcheck_source s[NSRC];
		pointcheck_result r;
		ratios(&fl0, 1.02, 0.03, s);
		CHECK_OK(pointcheck_fit(s, NSRC, &pp, &r), "");
		warned0 += r.warn;
		s0 += r.offset_rad / DEG / 200;
		e0 += r.offset_err_rad / DEG / 200;
		ratios(&fl3, 1.0, 0.005, s);
		CHECK_OK(pointcheck_fit(s, NSRC, &pp, &r), "");
		warned3 += r.warn;
		s3 += r.offset_rad / DEG / 200;
	}
	printf("# zero offset: mean fit %+.4f deg (mean error %.4f), warned %d of 200; "
	       "+0.03 deg at 0.5 %% scatter: mean fit %+.4f deg, warned %d\n", s0, e0, warned0, s3,
	       warned3);
	CHECK(warned0 == 0, "%d false alarms", warned0);
	CHECK(fabs(s0) < 0.01, "mean %g deg", s0);
	CHECK(warned3 == 0, "%d warnings below the threshold", warned3);
	CHECK(fabs(s3 - 0.03) < 0.005, "mean %g deg", s3);
}

static void test_outlier_and_too_few(void)
{
	pointcheck_params pp;
	pointcheck_source s[NSRC];
	pointcheck_result r;
	field fl;
	double truth = 0.2 * DEG;

	pointcheck_params_default(&pp);
	CHECK(make_field(&fl, truth) == 0);
	ratios(&fl, 1.0, 0.02, s);
	/* A source three times too bright (resolved in the catalog, a flare). */
	int far = 0;
	for (int i = 1; i < NSRC; i++)
		if (fabs(fl.z[i]) > fabs(fl.z[far]))
			far = i;
	s[far].ratio *= 3;
	CHECK_OK(pointcheck_fit(s, NSRC, &pp, &r), "");
	printf("# one ratio x3 at the edge: %+.4f +- %.4f deg, %d clipped\n", r.offset_rad / DEG,
	       r.offset_err_rad / DEG, r.nclipped);
	CHECK(r.status == POINTCHECK_OK && r.nclipped == 1 && r.nused == NSRC - 1);
	CHECK(fabs(r.offset_rad - truth) < 3 * r.offset_err_rad);
	/* Unusable entries are ignored. */
	s[0].ratio = NAN;
	s[1].ratio = -1;
	s[2].dlnpb_ddec = INFINITY;
	CHECK_OK(pointcheck_fit(s, NSRC, &pp, &r), "");
	CHECK(r.ninput == NSRC - 3);

	/* Five sources: too few. */
	ratios(&fl, 1.0, 0.02, s);
	CHECK_OK(pointcheck_fit(s, 5, &pp, &r), "");
	CHECK(r.status == POINTCHECK_TOO_FEW && !r.warn && isnan(r.offset_rad));
	/* North only: no north-vs-south comparison. */
	pointcheck_source north[NSRC];
	int nn = 0;
	for (int i = 0; i < NSRC; i++)
		if (fl.z[i] > 0)
			north[nn++] = s[i];
	CHECK(nn >= 6);
	CHECK_OK(pointcheck_fit(north, nn, &pp, &r), "");
	CHECK(r.status == POINTCHECK_TOO_FEW && !r.warn);
	/* Every source on the pointing's parallel (z = 0): nothing north or south. */
	for (int i = 0; i < NSRC; i++)
		s[i].dlnpb_ddec = 0;
	CHECK_OK(pointcheck_fit(s, NSRC, &pp, &r), "");
	CHECK(r.status == POINTCHECK_TOO_FEW && !r.warn);
	/* Bad parameters. */
	pp.min_sources = 2;
	CHECK(pointcheck_fit(s, NSRC, &pp, &r) == -EINVAL);
	pointcheck_params_default(&pp);
	CHECK(pointcheck_fit(NULL, 3, &pp, &r) == -EINVAL);
	CHECK_OK(pointcheck_fit(NULL, 0, &pp, &r), "");
	CHECK(r.status == POINTCHECK_TOO_FEW);
}

int main(void)
{
	RUN(test_recovers_offset);
	RUN(test_error_calibration);
	RUN(test_no_false_alarm);
	RUN(test_outlier_and_too_few);
	return TEST_DONE();
}
