/*
 * tests/imaging/test_noise.c — the visibility noise measured from the data
 * (imaging/noise.h) and the radiometer expectation image_run records from it.
 *
 * Synthetic sets (tests/imaging/synth.h: XX and YY with independent Gaussian
 * noise σ per real and imaginary part, weight 1, so σ_unit = σ): the
 * difference-product estimate, the adjacent-integration fallback, the
 * refusals, and the measured rms of pure-noise images against the recorded
 * expectation for natural, Briggs 0 and uniform weighting and with channel
 * averaging (the same 10 % the radiometer test of test_clean.c allows).
 *
 * The reference groups (../shared/data/reference, made by an independent
 * simulator): σ_vis estimated from the raw files agrees with the truth file's
 * sigma_vis (per pol and component at nsamples 24: σ_unit = sqrt(24)·σ_vis)
 * within 3 %, and the residual rms of the field group's image, true gains
 * divided out, is within 10 % of the expectation recorded from the data.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "core/convert.h"
#include "core/err.h"
#include "core/gaintab.h"
#include "imaging/image.h"
#include "imaging/noise.h"
#include "tests/imaging/refmeasure.h"
#include "tests/imaging/synth.h"
#include "tests/refdata.h"
#include "tests/test.h"

#define N 256
#define CELL (6.0 / 206264.80624709636)

static void small_params(image_params *p)
{
	image_params_default(p);
	p->nx = p->ny = N;
	p->cell_rad = CELL;
	p->nthreads = 2;
	p->clean.niter = 0;
}

/* σ_unit of v from its own Stokes I samples (no channel averaging). */
static int estimate(const vis_set *v, noise_estimate *e)
{
	char err[ERR_LEN] = "";
	weight_stokes *s = NULL;
	int r = weight_stokes_new(v, 1, 2, NULL, &s, err, sizeof err);
	if (r == 0)
		r = noise_unit_sigma(v, s, NULL, e);
	weight_stokes_free(s);
	return r;
}

static void test_noise_poldiff(void)
{
	/* Sources do not enter XX − YY: the estimate is σ with or without them. */
	static const synth_src src[] = { { 0, 0, 5.0 }, { 0.01, -0.004, 2.0 } };
	const double sig = 0.5;
	for (int with_src = 0; with_src < 2; with_src++) {
		vis_set *v = synth_make(24, 4, 8, 600, src, with_src ? 2 : 0, sig, 7);
		noise_estimate e;
		CHECK(v != NULL);
		if (!v)
			return;
		CHECK_OK(estimate(v, &e), "noise_unit_sigma");
		printf("# poldiff%s: sigma_unit %.4f (true %.4f, ratio %.4f) from %zu values\n",
		       with_src ? " with 7 Jy of sources" : "", e.sigma_unit, sig,
		       e.sigma_unit / sig, e.nvalues);
		CHECK(e.method == NOISE_POLDIFF, "method %s", noise_method_name(e.method));
		CHECK(fabs(e.sigma_unit / sig - 1) < 0.03, "ratio %g", e.sigma_unit / sig);
		CHECK(e.nvalues == 2u * 276 * 4 * 8, "%zu values", e.nvalues);
		vis_free(v);
	}
}

static void test_noise_weights(void)
{
	/* Data weights proportional to the inverse variance: half the samples
	 * with weight 4 and noise σ/2.  The unit-weight σ is still σ; an
	 * estimator that ignored the weights would give ~0.8 σ. */
	const double sig = 0.5;
	vis_set *v = synth_make(24, 4, 8, 600, NULL, 0, sig, 11);
	noise_estimate e;
	CHECK(v != NULL);
	if (!v)
		return;
	for (size_t i = 0; i < vis_nsamples(v); i += 2) {
		v->vis[i] *= 0.5f;
		v->weight[i] = 4;
	}
	CHECK_OK(estimate(v, &e), "noise_unit_sigma");
	printf("# weighted: sigma_unit %.4f (true %.4f)\n", e.sigma_unit, sig);
	CHECK(fabs(e.sigma_unit / sig - 1) < 0.03, "ratio %g", e.sigma_unit / sig);
	vis_free(v);
}

static void test_noise_timediff(void)
{
	/* Every YY flagged: no difference product, so adjacent integrations of
	 * I = XX (weight 1, σ per component). */
	const double sig = 0.5;
	vis_set *v = synth_make(24, 6, 8, 600, NULL, 0, sig, 5);
	noise_estimate e;
	CHECK(v != NULL);
	if (!v)
		return;
	int py = vis_pol_index(v, VIS_POL_YY);
	for (int t = 0; t < v->ntimes; t++)
		for (int b = 0; b < v->nbls; b++)
			for (int c = 0; c < v->nchan; c++)
				v->flags[vis_idx(v, t, b, c, py)] = 1;
	CHECK_OK(estimate(v, &e), "noise_unit_sigma");
	printf("# timediff: sigma_unit %.4f (true %.4f) from %zu values\n", e.sigma_unit, sig,
	       e.nvalues);
	CHECK(e.method == NOISE_TIMEDIFF, "method %s", noise_method_name(e.method));
	CHECK(fabs(e.sigma_unit / sig - 1) < 0.03, "ratio %g", e.sigma_unit / sig);
	CHECK(e.nvalues == 2u * 276 * 5 * 8, "%zu values", e.nvalues);
	vis_free(v);
}

static void test_noise_refused(void)
{
	static const synth_src src[] = { { 0, 0, 1.0 } };
	noise_estimate e;
	/* Noiseless: XX = YY exactly. */
	vis_set *v = synth_make(12, 3, 4, 600, src, 1, 0, 3);
	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_OK(estimate(v, &e), "noise_unit_sigma");
	CHECK(e.method == NOISE_NONE && isnan(e.sigma_unit), "noiseless: %s %g",
	      noise_method_name(e.method), e.sigma_unit);
	vis_free(v);
	/* One integration, one good feed: neither estimator has anything. */
	v = synth_make(12, 1, 4, 600, NULL, 0, 0.5, 3);
	CHECK(v != NULL);
	if (!v)
		return;
	for (size_t i = 1; i < vis_nsamples(v); i += 2)
		v->flags[i] = 1;
	CHECK_OK(estimate(v, &e), "noise_unit_sigma");
	CHECK(e.method == NOISE_NONE && isnan(e.sigma_unit), "one feed, one time: %s %g",
	      noise_method_name(e.method), e.sigma_unit);
	CHECK(isnan(noise_image_expect(e.sigma_unit, 10, 5)), "expectation without sigma");
	vis_free(v);
}

static void test_noise_image_ratio(void)
{
	/* Pure noise: the measured rms of the (uncleaned) image against the
	 * expectation image_run recorded, for every weighting and with channel
	 * averaging (the data weights of averaged samples add). */
	static const struct { int mode; double robust; int chan_avg; } cases[] = {
		{ WEIGHT_NATURAL, 0, 1 }, { WEIGHT_BRIGGS, 0, 1 }, { WEIGHT_BRIGGS, -1, 1 },
		{ WEIGHT_UNIFORM, 0, 1 }, { WEIGHT_BRIGGS, 0, 4 },
	};
	const double sig = 0.5;
	vis_set *v = synth_make(24, 4, 8, 600, NULL, 0, sig, 3);
	CHECK(v != NULL);
	if (!v)
		return;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char err[ERR_LEN] = "";
		image_params p;
		image_result *r = NULL;
		small_params(&p);
		p.weighting = cases[k].mode;
		p.robust = cases[k].robust;
		p.chan_avg = cases[k].chan_avg;
		CHECK_OK(image_run(v, &p, &r, err, sizeof err), err);
		if (!r)
			continue;
		double truth = sig * sqrt(r->sum_w2_over_d) / r->sum_w;
		printf("# %-10s chan_avg %d: rms %.4g, recorded expectation %.4g (from the true "
		       "sigma %.4g), ratio %.3f\n", r->weighting_desc, cases[k].chan_avg,
		       r->noise_jy, r->expected_noise_jy, truth, r->noise_jy / r->expected_noise_jy);
		CHECK(r->vis_noise_method == NOISE_POLDIFF, "%d", r->vis_noise_method);
		CHECK(fabs(r->expected_noise_jy / truth - 1) < 0.03, "expectation %g vs %g",
		      r->expected_noise_jy, truth);
		CHECK(fabs(r->noise_jy / r->expected_noise_jy - 1) < 0.1, "ratio %g",
		      r->noise_jy / r->expected_noise_jy);
		image_result_free(r);
	}
	vis_free(v);
}

static vis_set *load_group(const char *rel, char *gains, double *ret_sigma_vis)
{
	static char files[16][1024];
	static truth_src src[MAXSRC];
	char truth[1024] = "", err[ERR_LEN] = "";
	const char *paths[16];
	int nfiles = 0, nsrc = 0;
	vis_set *v = NULL;
	convert_params cp;

	nfiles = group_files(test_data(rel), files, 16, truth, gains);
	CHECK(nfiles == 16, "%d files in %s", nfiles, rel);
	CHECK(read_truth(truth, src, &nsrc, ret_sigma_vis) == 0 && *ret_sigma_vis > 0,
	      "truth %s", truth);
	if (nfiles != 16 || !(*ret_sigma_vis > 0))
		return NULL;
	for (int i = 0; i < 16; i++)
		paths[i] = files[i];
	convert_params_default(&cp);
	cp.nthreads = 2;
	CHECK_OK(convert_load_group(paths, 16, &cp, &v, NULL, err, sizeof err), err);
	return v;
}

/* Divide the true gains out of v, and give every sample the weight of its
 * noise after the division: the truth's noise σ_vis was added after the
 * gains, so a corrected sample has σ_vis / |g₁g₂| and its inverse-variance
 * weight is w·|g₁g₂|².  Then σ_unit = sqrt(w_feed)·σ_vis exactly. */
static int divide_gains(vis_set *v, const char *gains, int reweight)
{
	char err[ERR_LEN] = "";
	gaintab *gt = NULL;
	vis_set *one = reweight ? vis_dup(v) : NULL;
	int r = gaintab_read(gains, &gt, err, sizeof err);
	if (r == 0 && reweight && !one)
		r = -ENOMEM;
	if (r == 0)
		r = gaintab_divide(v, gt, 2, err, sizeof err);
	if (r == 0 && reweight) {
		size_t n = vis_nsamples(one);
		for (size_t i = 0; i < n; i++)
			one->vis[i] = 1;
		r = gaintab_divide(one, gt, 2, err, sizeof err);
		for (size_t i = 0; r == 0 && i < n; i++) {
			float a2 = crealf(one->vis[i] * conjf(one->vis[i])); /* 1/|g₁g₂|² */
			v->weight[i] = a2 > 0 ? v->weight[i] / a2 : 0;
		}
	}
	if (r)
		fprintf(stderr, "  gains %s: %s\n", gains, err);
	gaintab_free(gt);
	vis_free(one);
	return r;
}

static void test_noise_reference(void)
{
	static const char *const groups[] = { "reference/cal-0834", "reference/field-0834-plus1h" };
	for (int k = 0; k < 2; k++) {
		char gains[1024] = "", err[ERR_LEN] = "";
		double sigma_vis = 0;
		vis_set *v = load_group(groups[k], gains, &sigma_vis);
		noise_estimate e;
		image_result *r = NULL;
		if (!v)
			return;
		/* The feed weight is nsamples (24) in these files. */
		float w = v->weight[vis_idx(v, 0, 1, 0, 0)];
		if (k == 0) {
			/* Raw, the 8.8 Jy calibrator in the beam: the two feeds'
			 * different gains leave it in XX - YY, and the estimate is
			 * far off — why the image stage measures calibrated data. */
			CHECK_OK(estimate(v, &e), "noise_unit_sigma");
			printf("# %s raw (gains not divided): sigma_vis %.4f Jy estimated, truth %.4f, "
			       "ratio %.3f\n", groups[k], e.sigma_unit / sqrt(w), sigma_vis,
			       e.sigma_unit / sqrt(w) / sigma_vis);
		}
		vis_set *cw = vis_dup(v);
		CHECK(cw != NULL);
		CHECK(divide_gains(v, gains, 0) == 0 && cw && divide_gains(cw, gains, 1) == 0,
		      "gains %s", gains);
		CHECK_OK(cw ? estimate(cw, &e) : -ENOMEM, "noise_unit_sigma");
		double est = e.sigma_unit / sqrt(w);
		printf("# %s calibrated: sigma_vis %.4f Jy estimated (%s, %zu values), truth %.4f, "
		       "ratio %.4f\n", groups[k], est, noise_method_name(e.method), e.nvalues,
		       sigma_vis, est / sigma_vis);
		CHECK(e.method == NOISE_POLDIFF, "%s", noise_method_name(e.method));
		CHECK(fabs(est / sigma_vis - 1) < 0.03, "%s: sigma_vis ratio %.4f", groups[k],
		      est / sigma_vis);
		vis_free(cw);
		if (k == 1) {
			/* The image stage's defaults at the acceptance test's geometry
			 * (tests/imaging/test_reference.c: every source inside the pb
			 * cut is in the image and gets CLEANed). */
			image_params p;
			image_params_default(&p);
			p.nx = p.ny = 2048;
			p.cell_rad = 6.0 / 206264.80624709636;
			p.nthreads = 2;
			CHECK_OK(image_run(v, &p, &r, err, sizeof err), err);
			if (r) {
				double old = sqrt(24 * sigma_vis * sigma_vis * r->sum_w2_over_d) /
					     r->sum_w;
				printf("# %s %s image: rms %.4f mJy/beam, expectation from the data "
				       "%.4f mJy/beam (ratio %.3f), from the truth sigma_vis %.4f "
				       "(ratio %.3f)\n", groups[k], r->weighting_desc,
				       r->noise_jy * 1e3, r->expected_noise_jy * 1e3,
				       r->noise_jy / r->expected_noise_jy, old * 1e3,
				       r->noise_jy / old);
				CHECK(fabs(r->noise_jy / r->expected_noise_jy - 1) < 0.1, "ratio %.3f",
				      r->noise_jy / r->expected_noise_jy);
			}
		}
		image_result_free(r);
		vis_free(v);
	}
}

int main(void)
{
	RUN(test_noise_poldiff);
	RUN(test_noise_weights);
	RUN(test_noise_timediff);
	RUN(test_noise_refused);
	RUN(test_noise_image_ratio);
	RUN_REF(test_noise_reference);
	return TEST_DONE();
}
