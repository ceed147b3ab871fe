/*
 * tests/imaging/test_weight.c — Stokes I formation with per-pol flags, and
 * the natural / uniform / Briggs weight sums, taper and uv range, checked
 * against quantities recomputed here from their definitions.
 */
#include "core/err.h"
#include "imaging/weight.h"
#include "tests/imaging/synth.h"
#include "tests/test.h"

#define AS (M_PI / 648000.0)

static void test_stokes_flags(void)
{
	char err[ERR_LEN] = "";
	weight_stokes *s = NULL;
	vis_set *v = synth_make(3, 1, 2, 100, NULL, 0, 0, 1); /* bls 00 01 02 11 12 22 */
	if (!v)
		return;
	/* Baseline 1 (0-1), channel 0: XX = 1+2i (w 24), YY = 3+4i (w 8). */
	v->vis[vis_idx(v, 0, 1, 0, 0)] = 1 + 2 * I;
	v->vis[vis_idx(v, 0, 1, 0, 1)] = 3 + 4 * I;
	v->weight[vis_idx(v, 0, 1, 0, 0)] = 24;
	v->weight[vis_idx(v, 0, 1, 0, 1)] = 8;
	/* Channel 1: YY flagged -> I = XX with XX's weight. */
	v->vis[vis_idx(v, 0, 1, 1, 0)] = 5;
	v->vis[vis_idx(v, 0, 1, 1, 1)] = 100;
	v->flags[vis_idx(v, 0, 1, 1, 1)] = VIS_FLAG_RFI;
	/* Baseline 2 (0-2), channel 0: both flagged; channel 1: XX NaN (unflagged!). */
	v->flags[vis_idx(v, 0, 2, 0, 0)] = VIS_FLAG_INPUT;
	v->flags[vis_idx(v, 0, 2, 0, 1)] = VIS_FLAG_INPUT;
	v->vis[vis_idx(v, 0, 2, 1, 0)] = NAN;
	v->vis[vis_idx(v, 0, 2, 1, 1)] = 7;
	CHECK_OK(weight_stokes_new(v, 1, 1, NULL, &s, err, sizeof err), err);
	if (!s)
		goto out;
	CHECK(s->nbl == 3, "cross baselines %d (autos must be skipped)", s->nbl);
	CHECK(s->nrows == 3 && s->nchan == 2);
	/* Row 0 = baseline 0-1. */
	CHECK_NEAR(crealf(s->vis[0]), 2, 1e-6);
	CHECK_NEAR(cimagf(s->vis[0]), 3, 1e-6);
	CHECK_NEAR(s->data_wgt[0], 4.0 / (1.0 / 24 + 1.0 / 8), 1e-4);
	CHECK_NEAR(crealf(s->vis[1]), 5, 1e-6);
	CHECK_NEAR(s->data_wgt[1], 1, 1e-6);
	/* Row 1 = baseline 0-2. */
	CHECK(s->data_wgt[2] == 0);
	CHECK_NEAR(crealf(s->vis[3]), 7, 1e-6);
	CHECK_NEAR(s->data_wgt[3], 1, 1e-6);
	CHECK(s->nsingle == 2, "%zu single-pol samples", s->nsingle);
	CHECK(s->ngood == 5, "%zu good", s->ngood);
	for (int c = 0; c < 2; c++)
		CHECK_NEAR(s->uvw_m[3 * 0 + c], v->uvw_m[3 * 1 + c], 0);
out:
	weight_stokes_free(s);
	vis_free(v);
}

static void test_chan_avg(void)
{
	char err[ERR_LEN] = "";
	weight_stokes *s = NULL;
	vis_set *v = synth_make(2, 1, 5, 100, NULL, 0, 0, 1);
	if (!v)
		return;
	for (int c = 0; c < 5; c++)
		for (int p = 0; p < 2; p++) {
			v->vis[vis_idx(v, 0, 1, c, p)] = c + 1;
			v->weight[vis_idx(v, 0, 1, c, p)] = c + 1;
		}
	CHECK_OK(weight_stokes_new(v, 2, 1, NULL, &s, err, sizeof err), err);
	if (s) {
		CHECK(s->nchan == 3);
		/* (1·1 + 2·2)/(1+2) weighted by I weights 2, 4. */
		CHECK_NEAR(crealf(s->vis[0]), (1 * 2.0 + 2 * 4.0) / 6, 1e-6);
		CHECK_NEAR(s->data_wgt[0], 6, 1e-6);
		CHECK_NEAR(s->freq_hz[0], 0.5 * (v->freq_hz[0] + v->freq_hz[1]), 1e-3);
		CHECK_NEAR(s->freq_hz[2], v->freq_hz[4], 1e-3);
		CHECK_NEAR(s->data_wgt[2], 10, 1e-6);
	}
	weight_stokes_free(s);
	vis_free(v);
}

static long cell(double u, double v, const weight_params *p)
{
	long iu = lround(u * p->nx * p->cell_rad) + p->nx / 2;
	long iv = lround(v * p->ny * p->cell_rad) + p->ny / 2;
	return (iu < 0 || iv < 0 || iu >= p->nx || iv >= p->ny) ? -1 : iv * p->nx + iu;
}

static void test_weighting_sums(void)
{
	char err[ERR_LEN] = "";
	weight_stokes *s = NULL;
	weight_params p;
	vis_set *v = synth_make(12, 3, 4, 400, NULL, 0, 0, 3);
	static double dens[64 * 64];
	if (!v)
		return;
	CHECK_OK(weight_stokes_new(v, 1, 2, NULL, &s, err, sizeof err), err);
	if (!s)
		goto out;
	weight_params_default(&p);
	p.nx = p.ny = 64;
	p.cell_rad = 20 * AS;
	/* Independent density grid (each sample at (u,v) and (−u,−v)). */
	memset(dens, 0, sizeof dens);
	size_t ns = s->nrows * s->nchan;
	double sumd = 0;
	for (size_t k = 0; k < ns; k++) {
		double f = s->freq_hz[k % s->nchan] / VIS_C_M_S;
		const double *uvw = s->uvw_m + 3 * (k / s->nchan);
		long a = cell(uvw[0] * f, uvw[1] * f, &p), b = cell(-uvw[0] * f, -uvw[1] * f, &p);
		CHECK(a >= 0 && b >= 0);
		if (a >= 0)
			dens[a] += s->data_wgt[k];
		if (b >= 0)
			dens[b] += s->data_wgt[k];
		sumd += s->data_wgt[k];
	}
	int occupied = 0;
	double sw2 = 0, swg = 0;
	for (int i = 0; i < 64 * 64; i++) {
		occupied += dens[i] > 0;
		sw2 += dens[i] * dens[i];
		swg += dens[i];
	}

	p.mode = WEIGHT_NATURAL;
	CHECK_OK(weight_apply(s, &p, err, sizeof err), err);
	CHECK_NEAR(s->sum_w, sumd, 1e-6 * sumd);
	CHECK_NEAR(s->sum_w2_over_d, sumd, 1e-6 * sumd);

	/* Uniform: every occupied cell (both half-planes) sums to 1. */
	p.mode = WEIGHT_UNIFORM;
	CHECK_OK(weight_apply(s, &p, err, sizeof err), err);
	printf("# uniform: 2 sum_w = %.4f, occupied cells %d\n", 2 * s->sum_w, occupied);
	CHECK_NEAR(2 * s->sum_w, occupied, 1e-3);

	/* Briggs: w/(1 + W f²) with f² = (5·10^−R)²/(ΣW²/ΣW). */
	for (double R = -2; R <= 2; R += 1) {
		p.mode = WEIGHT_BRIGGS;
		p.robust = R;
		CHECK_OK(weight_apply(s, &p, err, sizeof err), err);
		double f2 = pow(5 * pow(10, -R), 2) / (sw2 / swg), expect = 0, maxd = 0;
		for (size_t k = 0; k < ns; k++) {
			double f = s->freq_hz[k % s->nchan] / VIS_C_M_S;
			const double *uvw = s->uvw_m + 3 * (k / s->nchan);
			double W = dens[cell(uvw[0] * f, uvw[1] * f, &p)];
			double w = s->data_wgt[k] / (1 + W * f2);
			expect += w;
			maxd = fmax(maxd, fabs(s->img_wgt[k] - w) / w);
		}
		CHECK(maxd < 1e-5, "briggs %g: max relative difference %g", R, maxd);
		CHECK_NEAR(s->sum_w, expect, 1e-5 * expect);
	}
	/* Robust +2 is nearly natural, −2 nearly uniform (relative weights). */
	p.robust = 2;
	weight_apply(s, &p, err, sizeof err);
	double rmin = 1e30, rmax = 0;
	for (size_t k = 0; k < ns; k++) {
		double r = s->img_wgt[k] / s->data_wgt[k];
		rmin = fmin(rmin, r);
		rmax = fmax(rmax, r);
	}
	CHECK(rmax / rmin < 1.3, "robust 2 spread %g", rmax / rmin);

	/* Taper and uv range. */
	p.mode = WEIGHT_NATURAL;
	p.taper_fwhm_rad = 60 * AS;
	p.uvmax_lambda = 1500;
	CHECK_OK(weight_apply(s, &p, err, sizeof err), err);
	double sg = 60 * AS / sqrt(8 * log(2));
	for (size_t k = 0; k < ns; k++) {
		double f = s->freq_hz[k % s->nchan] / VIS_C_M_S;
		const double *uvw = s->uvw_m + 3 * (k / s->nchan);
		double uv2 = (uvw[0] * uvw[0] + uvw[1] * uvw[1]) * f * f;
		double w = uv2 > 1500.0 * 1500 ? 0
					       : s->data_wgt[k] * exp(-2 * M_PI * M_PI * sg * sg * uv2);
		if (fabs(s->img_wgt[k] - w) > 1e-5 * s->data_wgt[k]) {
			CHECK(0, "taper/uvrange sample %zu: %g vs %g", k, s->img_wgt[k], w);
			break;
		}
	}
	CHECK(s->max_uv_lambda <= 1500);
	p.robust = 3;
	p.mode = WEIGHT_BRIGGS;
	CHECK(weight_apply(s, &p, err, sizeof err) == -EINVAL);
	int m;
	CHECK(weight_mode_parse("Briggs", &m) == 0 && m == WEIGHT_BRIGGS);
	CHECK(weight_mode_parse("superuniform", &m) == -EINVAL);
out:
	weight_stokes_free(s);
	vis_free(v);
}

int main(void)
{
	RUN(test_stokes_flags);
	RUN(test_chan_avg);
	RUN(test_weighting_sums);
	return TEST_DONE();
}
