/*
 * tests/core/test_predict.c — model visibilities against an explicit slow
 * evaluation of the formula, and against the independent reference data
 * (../shared/data/reference): after dividing the true gains out of the data,
 * the residual against our prediction must be thermal noise of the stated
 * size (χ²/dof ≈ 1), both for the raw drift-phased subbands and for the
 * combined, rephased group.  This pins the sign, frame and baseline
 * conventions (docs/conventions.md).
 */
#include <complex.h>
#include <math.h>

#include "core/astro.h"
#include "core/beam.h"
#include "core/convert.h"
#include "core/err.h"
#include "core/gaintab.h"
#include "core/predict.h"
#include "core/sky.h"
#include "core/uvh5.h"
#include "core/vis.h"
#include "tests/refdata.h"
#include "tests/test.h"

#define D2R (M_PI / 180)
#define AS2R (M_PI / 648000)

/* χ²/dof of (data − model) on unflagged cross-correlations, where data has
 * had the gains g divided out: each residual is scaled back by |g1 g2| so
 * σ is the per-part noise of the observed data.  *ret_chi2_nomodel gets the
 * same statistic with a zero model (must be ≫ 1 for the test to mean much). */
static double chi2_dof(const vis_set *data, const vis_set *model, const gaintab *g, double sigma,
		       double *ret_chi2_nomodel, size_t *ret_dof)
{
	vis_set *ginv = vis_dup(data);
	double chi2 = 0, chi0 = 0;
	size_t dof = 0;

	if (!ginv)
		return NAN;
	for (size_t i = 0; i < vis_nsamples(ginv); i++) {
		ginv->vis[i] = 1;
		ginv->flags[i] = 0;
	}
	/* ginv = 1 / (g1 conj g2): the same matching as applied to the data. */
	if (gaintab_divide(ginv, g, 0, NULL, 0) != 0) {
		vis_free(ginv);
		return NAN;
	}
	for (int t = 0; t < data->ntimes; t++)
		for (int b = 0; b < data->nbls; b++) {
			if (data->ant1[b] == data->ant2[b])
				continue;
			for (int c = 0; c < data->nchan; c++)
				for (int p = 0; p < data->npols; p++) {
					size_t i = vis_idx(data, t, b, c, p);
					double a2;
					if (data->flags[i] || ginv->flags[i])
						continue;
					a2 = 1.0 / (crealf(ginv->vis[i]) * crealf(ginv->vis[i]) +
						    cimagf(ginv->vis[i]) * cimagf(ginv->vis[i]));
					chi2 += cabs(data->vis[i] - model->vis[i]) * cabs(data->vis[i] - model->vis[i]) * a2;
					chi0 += cabsf(data->vis[i]) * cabsf(data->vis[i]) * a2;
					dof += 2;
				}
		}
	vis_free(ginv);
	if (ret_chi2_nomodel)
		*ret_chi2_nomodel = chi0 / (sigma * sigma) / (double)dof;
	if (ret_dof)
		*ret_dof = dof;
	return dof ? chi2 / (sigma * sigma) / (double)dof : NAN;
}

static void reference_group(const char *rel)
{
	char paths[32][1024], truth_path[1024] = "", gains_path[1024] = "", err[ERR_LEN] = "";
	const char *dir = test_data(rel);
	int n = group_files(dir, paths, 32, truth_path, gains_path);
	sky_model sky;
	sky_truth truth;
	gaintab *g = NULL;
	double worst = 0, max_uvw_err = 0;
	predict_params pp;

	CHECK(n == 16, "%s: %d subband files", dir, n);
	sky_init(&sky);
	CHECK_OK(sky_load_truth_json(&sky, truth_path, &truth, err, sizeof err), err);
	CHECK_OK(gaintab_read(gains_path, &g, err, sizeof err), err);
	if (!g || sky.n == 0 || n != 16)
		goto out;
	predict_params_default(&pp);

	/* (a) each subband as the correlator wrote it (drift phased). */
	for (int i = 0; i < n; i++) {
		vis_set *v = NULL, *m = NULL;
		double chi, chi0;
		size_t dof;

		CHECK_OK(uvh5_read(paths[i], &v, err, sizeof err), err);
		if (!v)
			continue;
		CHECK(v->phase_type == VIS_PHASE_DRIFT, "%s", "");
		/* uvw_array = R(H_G = −lon, δ0) · (pos[a2] − pos[a1]) to float precision. */
		{
			double r[3][3];
			astro_uvw_matrix(-v->lon_rad, v->phase_dec_rad, r);
			for (size_t row = 0; row < (size_t)v->ntimes * v->nbls; row++) {
				int b = (int)(row % v->nbls);
				const double *p1 = v->ants[vis_ant_index(v, v->ant1[b])].pos_m;
				const double *p2 = v->ants[vis_ant_index(v, v->ant2[b])].pos_m;
				double bl[3] = {p2[0] - p1[0], p2[1] - p1[1], p2[2] - p1[2]};
				double len = sqrt(bl[0] * bl[0] + bl[1] * bl[1] + bl[2] * bl[2]);
				for (int k = 0; k < 3; k++) {
					double u = r[k][0] * bl[0] + r[k][1] * bl[1] + r[k][2] * bl[2];
					double e = fabs(u - v->uvw_m[row * 3 + k]) / (len + 1);
					if (e > max_uvw_err)
						max_uvw_err = e;
				}
			}
		}
		m = vis_dup(v);
		CHECK(m != NULL, "%s", "");
		if (!m) {
			vis_free(v);
			continue;
		}
		CHECK_OK(predict_vis(m, &sky, &pp, PREDICT_OVERWRITE, err, sizeof err), err);
		CHECK_OK(gaintab_divide(v, g, 0, err, sizeof err), err);
		chi = chi2_dof(v, m, g, truth.sigma_vis, &chi0, &dof);
		printf("# %s: chi2/dof %.4f (zero model: %.3f, dof %zu)\n", strrchr(paths[i], '/') + 1,
		       chi, chi0, dof);
		/* Expected scatter sqrt(2/dof) ≈ 0.0035: 0.03 is a loose bound. */
		CHECK(fabs(chi - 1) < 0.03, "%s: chi2/dof %.4f", paths[i], chi);
		/* The model must explain far more than the noise allows by chance. */
		CHECK(chi0 - chi > 20 * sqrt(2.0 / dof), "%s: zero-model chi2/dof %.4f", paths[i], chi0);
		if (fabs(chi - 1) > worst)
			worst = fabs(chi - 1);
		vis_free(m);
		vis_free(v);
	}
	printf("# %s: drift subbands: worst |chi2/dof - 1| = %.4f; max |uvw - R b|/(|b|+1 m) = %.2e\n",
	       rel, worst, max_uvw_err);
	CHECK(max_uvw_err < 1e-6, "uvw_array vs recipe: %.3g", max_uvw_err);

	/* (b) the combined group, rephased to the ICRS centre. */
	{
		const char *pp16[16];
		vis_set *v = NULL, *m = NULL;
		convert_params cp;
		convert_info info;
		double chi, chi0;
		size_t dof;

		for (int i = 0; i < n; i++)
			pp16[i] = paths[i];
		convert_params_default(&cp);
		CHECK_OK(convert_load_group(pp16, n, &cp, &v, &info, err, sizeof err), err);
		if (!v)
			goto out;
		CHECK(v->phase_type == VIS_PHASE_FIXED, "%s", "");
		CHECK(v->nchan == 96, "%s", "");
		CHECK(info.missing_mask == 0, "%s", "");
		for (int c = 1; c < v->nchan; c++)
			CHECK(v->freq_hz[c] > v->freq_hz[c - 1], "channel %d not ascending", c);
		m = vis_dup(v);
		if (m) {
			CHECK_OK(predict_vis(m, &sky, &pp, PREDICT_OVERWRITE, err, sizeof err), err);
			CHECK_OK(gaintab_divide(v, g, 0, err, sizeof err), err);
			chi = chi2_dof(v, m, g, truth.sigma_vis, &chi0, &dof);
			printf("# %s: converted + rephased to ICRS (%.5f, %.5f) deg: chi2/dof %.4f (zero model %.3f, dof %zu)\n",
			       rel, v->phase_ra_rad / D2R, v->phase_dec_rad / D2R, chi, chi0, dof);
			CHECK(fabs(chi - 1) < 0.01, "rephased chi2/dof %.4f", chi);
			CHECK(chi0 - chi > 20 * sqrt(2.0 / dof), "zero-model chi2/dof %.4f", chi0);
		}
		vis_free(m);
		vis_free(v);
	}
out:
	gaintab_free(g);
	sky_release(&sky);
}

static void test_reference_cal(void)
{
	reference_group("reference/cal-0834");
}

static void test_reference_field(void)
{
	reference_group("reference/field-0834-plus1h");
}

/* A small synthetic set: 4 antennas, 3 times, 5 non-uniform channels (or,
 * with nchan_uniform > 0, that many channels 0.5 MHz apart). */
static vis_set *small_set_n(int phase_type, int nchan_uniform)
{
	vis_set *v = vis_new(3, 10, nchan_uniform > 0 ? nchan_uniform : 5, 2, 4);
	double pos[4][3] = {{0, 0, 0}, {120.5, -30.2, 80.1}, {-210.3, 400.7, 15.2}, {900.2, 35.1, -640.4}};
	double freqs[5] = {1.31e9, 1.35e9, 1.36e9, 1.45e9, 1.49e9};
	int b = 0;

	if (!v)
		return NULL;
	v->lat_rad = 37.2339 * D2R;
	v->lon_rad = -118.2825 * D2R;
	v->alt_m = 1222;
	for (int a = 0; a < 4; a++) {
		v->ants[a].number = a + 3;
		v->ants[a].diam_m = 4.65;
		memcpy(v->ants[a].pos_m, pos[a], sizeof pos[a]);
	}
	for (int a2 = 0; a2 < 4; a2++)
		for (int a1 = 0; a1 <= a2; a1++, b++) {
			v->ant1[b] = a1 + 3;
			v->ant2[b] = a2 + 3;
		}
	for (int t = 0; t < 3; t++)
		v->time_jd[t] = 2461100.74 + t * 12.884901888 / 86400;
	if (nchan_uniform > 0)
		for (int c = 0; c < nchan_uniform; c++)
			v->freq_hz[c] = 1.311e9 + c * 0.5e6;
	else
		memcpy(v->freq_hz, freqs, sizeof freqs);
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	v->phase_dec_rad = 54.9 * D2R;
	v->pointing_dec_rad = 54.9 * D2R;
	v->has_pointing_dec = 1;
	v->phase_type = VIS_PHASE_DRIFT;
	{
		double r[3][3];
		astro_uvw_matrix(-v->lon_rad, v->phase_dec_rad, r);
		for (int t = 0; t < 3; t++)
			for (b = 0; b < 10; b++) {
				const double *p1 = pos[v->ant1[b] - 3], *p2 = pos[v->ant2[b] - 3];
				for (int k = 0; k < 3; k++)
					v->uvw_m[((size_t)t * 10 + b) * 3 + k] =
						r[k][0] * (p2[0] - p1[0]) + r[k][1] * (p2[1] - p1[1]) + r[k][2] * (p2[2] - p1[2]);
			}
	}
	if (phase_type == VIS_PHASE_FIXED) {
		char err[ERR_LEN];
		if (convert_rephase(v, 0, 1, err, sizeof err) != 0) {
			vis_free(v);
			return NULL;
		}
	}
	return v;
}

static vis_set *small_set(int phase_type)
{
	return small_set_n(phase_type, 0);
}

/* predict_vis against a direct evaluation written from the recipe: ERFA's
 * one-shot eraAtci13 per source and time, the hour angle from eraEra00, the
 * textbook l, m, n, libm j1, and a sincos per channel (no recurrence).
 * Non-uniform channels (direct path) and 77 uniform ones (phasor recurrence
 * over partial lane blocks and re-anchoring). */
static void predict_vs_direct(int nchan_uniform)
{
	vis_set *v = small_set_n(VIS_PHASE_DRIFT, nchan_uniform);
	sky_model sky;
	char err[ERR_LEN] = "";
	double maxerr = 0, maxabs = 0;

	CHECK(v != NULL, "%s", "");
	if (!v)
		return;
	sky_init(&sky);
	/* Near the meridian at the set's times (LST ≈ 128.7°). */
	sky_add_deg(&sky, "a", 128.7, 55.6, 8.8, 0);
	sky_add_deg(&sky, "b", 130.1, 53.8, 0.5, -0.7);
	sky_add_deg(&sky, "c", 125.0, 56.9, 1.5, 0.3);
	CHECK_OK(predict_vis(v, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	for (int t = 0; t < v->ntimes; t++) {
		double u1 = v->time_jd[t], tt1, tt2, era, eo, ri, di;
		astro_utc_to_tt(u1, &tt1, &tt2);
		era = eraEra00(u1, 0); /* UT1 = UTC */
		for (int b = 0; b < v->nbls; b++)
			for (int c = 0; c < v->nchan; c++) {
				double complex sum = 0;
				double nu = v->freq_hz[c];
				const double *uvw = v->uvw_m + ((size_t)t * v->nbls + b) * 3;
				for (int s = 0; s < sky.n; s++) {
					double h, l, m, n, d0 = v->phase_dec_rad, x, A, S;
					eraAtci13(sky.src[s].ra_rad, sky.src[s].dec_rad, 0, 0, 0, 0, tt1, tt2, &ri, &di, &eo);
					h = era + v->lon_rad - ri;
					l = -cos(di) * sin(h);
					m = sin(di) * cos(d0) - cos(di) * sin(d0) * cos(h);
					n = sin(di) * sin(d0) + cos(di) * cos(d0) * cos(h);
					x = M_PI * 4.65 * nu * sqrt(1 - n * n) / 299792458.0;
					A = x == 0 ? 1 : pow(2 * j1(x) / x, 2);
					S = sky.src[s].flux_jy * pow(nu / 1.4e9, sky.src[s].alpha);
					sum += S * A * cexp(2 * M_PI * I * (uvw[0] * l + uvw[1] * m + uvw[2] * (n - 1)) * nu / 299792458.0);
				}
				for (int p = 0; p < 2; p++) {
					double e = cabs(v->vis[vis_idx(v, t, b, c, p)] - sum);
					if (e > maxerr)
						maxerr = e;
				}
				if (cabs(sum) > maxabs)
					maxabs = cabs(sum);
			}
	}
	printf("# drift predict vs direct (%d channels): max |diff| %.3g Jy (max |V| %.2f Jy)\n", v->nchan,
	       maxerr, maxabs);
	/* float storage: ~1e-7 relative of ~10 Jy; the n − 1 cancellation in the
	 * direct form costs a little more on the longest baseline. */
	CHECK(maxerr < 2e-5, "max diff %g", maxerr);
	sky_release(&sky);
	vis_free(v);
}

static void test_predict_vs_direct_drift(void)
{
	predict_vs_direct(0);
	predict_vs_direct(77);
}

/* FIXED sets: prediction at the rephased centre equals rephasing the drift
 * prediction (the two are computed by entirely different routes: one by
 * phase rotation of the drift model, one from the GCRS geometry). */
static void test_predict_fixed_equals_rephased_drift(void)
{
	vis_set *d = small_set(VIS_PHASE_DRIFT), *f = small_set(VIS_PHASE_FIXED);
	sky_model sky;
	char err[ERR_LEN] = "";
	double maxerr = 0;

	CHECK(d && f, "%s", "");
	if (!d || !f)
		goto out;
	sky_init(&sky);
	sky_add_deg(&sky, "a", 128.7, 55.6, 8.8, 0);
	sky_add_deg(&sky, "b", 130.1, 53.8, 0.5, -0.7);
	sky_add_deg(&sky, "far", 118.0, 60.0, 3.0, 0); /* ~6° away: far sidelobes, large w-term */
	CHECK_OK(predict_vis(d, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	CHECK_OK(convert_rephase(d, 0, 2, err, sizeof err), err);
	CHECK_OK(predict_vis(f, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	CHECK_NEAR(d->phase_ra_rad, f->phase_ra_rad, 1e-12);
	for (size_t i = 0; i < vis_nsamples(d); i++)
		if (cabsf(d->vis[i] - f->vis[i]) > maxerr)
			maxerr = cabsf(d->vis[i] - f->vis[i]);
	for (size_t i = 0; i < (size_t)d->ntimes * d->nbls * 3; i++)
		CHECK_NEAR(d->uvw_m[i], f->uvw_m[i], 1e-9);
	printf("# fixed predict vs rephased drift predict: max |diff| %.3g Jy\n", maxerr);
	CHECK(maxerr < 2e-5, "max diff %g", maxerr);
	/* Subtract mode leaves zero. */
	CHECK_OK(predict_vis(f, &sky, NULL, PREDICT_SUBTRACT, err, sizeof err), err);
	maxerr = 0;
	for (size_t i = 0; i < vis_nsamples(f); i++)
		if (cabsf(f->vis[i]) > maxerr)
			maxerr = cabsf(f->vis[i]);
	CHECK(maxerr < 1e-6, "subtract leaves %g", maxerr);
	sky_release(&sky);
out:
	vis_free(d);
	vis_free(f);
}

static double max_diff(const vis_set *a, const vis_set *b)
{
	double m = 0;
	for (size_t i = 0; i < vis_nsamples(a); i++)
		m = fmax(m, cabsf(a->vis[i] - b->vis[i]));
	return m;
}

/* Earth orientation through the chain.  Drift data made with UT1 − UTC =
 * 0.35 s and polar motion (0.2", 0.4"), rephased with the same values,
 * equal the FIXED prediction with them (the same test as above, now with
 * W and a shifted ERA in every frame).  Drift data made with UT1 − UTC =
 * 0.35 s alone and rephased assuming UT1 = UTC: the source sits 15.04" ·
 * 0.35 s lower in RA — the FIXED model at α − 1.00273781191135448 · 15" ·
 * dut1 fits the data far better than the model at α (what is left comes
 * from the rotation being about the CIP, 0.36° from the ICRS pole). */
static void test_eop_through_rephase(void)
{
	const astro_eop e = { 0.35, 0.2 * AS2R, 0.4 * AS2R };
	vis_set *d = small_set(VIS_PHASE_DRIFT), *f = small_set(VIS_PHASE_DRIFT), *w = NULL;
	sky_model sky, moved;
	predict_params pe;
	char err[ERR_LEN] = "";
	double ra = 128.7, dec = 55.6, eps_deg = 1.00273781191135448 * 15 * e.dut1_s / 3600;

	CHECK(d && f, "%s", "alloc");
	if (!d || !f)
		goto out;
	sky_init(&sky);
	sky_init(&moved);
	sky_add_deg(&sky, "a", ra, dec, 8.8, 0);
	sky_add_deg(&sky, "b", 130.1, 53.8, 0.5, -0.7);
	sky_add_deg(&moved, "a", ra - eps_deg, dec, 8.8, 0);
	sky_add_deg(&moved, "b", 130.1 - eps_deg, 53.8, 0.5, -0.7);
	predict_params_default(&pe);
	pe.dut1_s = e.dut1_s;
	pe.xp_rad = e.xp_rad;
	pe.yp_rad = e.yp_rad;
	w = vis_dup(d);
	CHECK(w != NULL, "%s", "dup");
	if (!w)
		goto out_sky;
	CHECK_OK(predict_vis(d, &sky, &pe, PREDICT_OVERWRITE, err, sizeof err), err);
	pe.xp_rad = pe.yp_rad = 0;
	CHECK_OK(predict_vis(w, &sky, &pe, PREDICT_OVERWRITE, err, sizeof err), err);
	pe.xp_rad = e.xp_rad;
	pe.yp_rad = e.yp_rad;
	CHECK_OK(convert_rephase(d, &e, 2, err, sizeof err), err);
	CHECK_OK(convert_rephase(f, &e, 2, err, sizeof err), err);
	CHECK(d->dut1_s == e.dut1_s && strstr(d->history, "polar motion x 0.2000 arcsec, y 0.4000 arcsec"),
	      "provenance %g '%s'", d->dut1_s, d->history);
	CHECK_OK(predict_vis(f, &sky, &pe, PREDICT_OVERWRITE, err, sizeof err), err);
	double right = max_diff(d, f);
	printf("# UT1-UTC 0.35 s, polar motion (0.2\", 0.4\"): fixed predict vs rephased drift %.3g Jy\n",
	       right);
	CHECK(right < 2e-5, "max diff %g", right);

	/* Data with UT1 − UTC = 0.35 s rephased with UT1 = UTC. */
	CHECK_OK(convert_rephase(w, NULL, 2, err, sizeof err), err);
	vis_free(f);
	f = vis_dup(w);
	CHECK(f != NULL, "%s", "dup");
	if (!f)
		goto out_sky;
	CHECK_OK(predict_vis(f, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	double at_truth = max_diff(w, f);
	CHECK_OK(predict_vis(f, &moved, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	double at_moved = max_diff(w, f);
	printf("# rephased with UT1 = UTC: model at the truth off by %.3g Jy, at RA - %.2f\" by %.3g Jy\n",
	       at_truth, eps_deg * 3600, at_moved);
	CHECK(at_truth > 1 && at_moved < 0.02 * at_truth, "truth %g moved %g", at_truth, at_moved);
out_sky:
	sky_release(&sky);
	sky_release(&moved);
out:
	vis_free(d);
	vis_free(f);
	vis_free(w);
}

/* FIXED → FIXED: re-centring on another ICRS position equals predicting at
 * that centre, and going back restores the data and uvw. */
static void test_rephase_fixed_to_fixed(void)
{
	vis_set *f = small_set(VIS_PHASE_FIXED), *g = NULL, *orig = NULL;
	sky_model sky;
	char err[ERR_LEN] = "";
	double ra0, dec0, maxerr = 0, maxback = 0;

	CHECK(f != NULL, "%s", "alloc");
	if (!f)
		return;
	sky_init(&sky);
	sky_add_deg(&sky, "a", 128.7, 55.6, 8.8, 0);
	sky_add_deg(&sky, "b", 130.1, 53.8, 0.5, -0.7);
	CHECK_OK(predict_vis(f, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	orig = vis_dup(f);
	ra0 = f->phase_ra_rad;
	dec0 = f->phase_dec_rad;
	CHECK_OK(convert_rephase_to(f, 128.7 * D2R, 55.6 * D2R, 0, 1, err, sizeof err), err);
	CHECK(f->phase_type == VIS_PHASE_FIXED && f->phase_ra_rad == 128.7 * D2R, "%s", "centre");
	g = vis_dup(f);
	if (!g || !orig)
		goto out;
	CHECK_OK(predict_vis(g, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	for (size_t i = 0; i < vis_nsamples(f); i++)
		maxerr = fmax(maxerr, cabsf(f->vis[i] - g->vis[i]));
	CHECK(maxerr < 2e-5, "re-centred vs predicted: %g", maxerr);
	CHECK_OK(convert_rephase_to(f, ra0, dec0, 0, 1, err, sizeof err), err);
	for (size_t i = 0; i < vis_nsamples(f); i++)
		maxback = fmax(maxback, cabsf(f->vis[i] - orig->vis[i]));
	for (size_t i = 0; i < (size_t)f->ntimes * f->nbls * 3; i++)
		CHECK_NEAR(f->uvw_m[i], orig->uvw_m[i], 1e-9);
	CHECK(maxback < 2e-5, "round trip: %g", maxback);
	printf("# FIXED -> FIXED: vs prediction %.2e Jy, round trip %.2e Jy\n", maxerr, maxback);
out:
	sky_release(&sky);
	vis_free(f);
	vis_free(g);
	vis_free(orig);
}

/* A source exactly at the FIXED phase centre has zero phase on every baseline
 * and the beam amplitude of its offset from the pointing. */
static void test_source_at_centre(void)
{
	vis_set *f = small_set(VIS_PHASE_FIXED);
	sky_model sky;
	char err[ERR_LEN] = "";
	double lmn[3], st;

	CHECK(f != NULL, "%s", "");
	if (!f)
		return;
	sky_init(&sky);
	sky_add_deg(&sky, "c", f->phase_ra_rad / D2R, f->phase_dec_rad / D2R, 2.0, 0);
	CHECK_OK(predict_vis(f, &sky, NULL, PREDICT_OVERWRITE, err, sizeof err), err);
	for (size_t i = 0; i < vis_nsamples(f); i++)
		CHECK(fabs(cargf(f->vis[i])) < 1e-5, "sample %zu phase %g", i, cargf(f->vis[i]));
	CHECK_OK(predict_source_geometry(f, 1, sky.src[0].ra_rad, sky.src[0].dec_rad, 0, lmn, &st, err,
					 sizeof err), err);
	CHECK_NEAR(lmn[0], 0, 1e-12);
	CHECK_NEAR(lmn[1], 0, 1e-12);
	CHECK_NEAR(lmn[2], 1, 1e-12);
	/* The centre is the pointing at the mid time: a few arcmin at most
	 * from the pointing at the other integrations (drift 0.054°/integration). */
	CHECK(st < 0.002, "sin theta %g", st);
	sky_release(&sky);
	vis_free(f);
}

/* Sky models: CSV (header, comments, optional spectral index, errors with
 * line numbers), the reference catalog against its truth JSON, S(ν). */
static void test_sky_models(void)
{
	char path[1024], err[ERR_LEN] = "";
	sky_model m, t;
	FILE *fp;

	snprintf(path, sizeof path, "%s/cat.csv", test_tmpdir());
	fp = fopen(path, "w");
	if (!fp)
		return;
	fputs("name,ra_deg,dec_deg,flux_mjy,spectral_index\n# a comment\n\nA, 10.5, -20.25, 1500, -0.7\n"
	      "B,350,89.9,2.5\n", fp);
	fclose(fp);
	sky_init(&m);
	CHECK_OK(sky_load_csv(&m, path, err, sizeof err), err);
	CHECK(m.n == 2, "n %d", m.n);
	if (m.n == 2) {
		CHECK(!strcmp(m.src[0].name, "A") && !strcmp(m.src[1].name, "B"), "%s", "names");
		CHECK_NEAR(m.src[0].ra_rad, 10.5 * D2R, 1e-15);
		CHECK_NEAR(m.src[0].dec_rad, -20.25 * D2R, 1e-15);
		CHECK_NEAR(m.src[0].flux_jy, 1.5, 1e-15);
		CHECK_NEAR(m.src[0].alpha, -0.7, 1e-15);
		CHECK_NEAR(m.src[1].alpha, 0, 0);
		CHECK_NEAR(sky_flux(&m.src[0], 1.4e9), 1.5, 1e-15);
		CHECK_NEAR(sky_flux(&m.src[0], 2.8e9), 1.5 * pow(2, -0.7), 1e-12);
		CHECK_NEAR(sky_flux(&m.src[1], 0.7e9), 0.0025, 1e-15);
	}
	fp = fopen(path, "w");
	if (fp) {
		fputs("A,1,2,3\nB,1,x,3\n", fp);
		fclose(fp);
	}
	CHECK(sky_load_csv(&m, path, err, sizeof err) == -EINVAL && strstr(err, ":2:"), "%s", err);
	CHECK(sky_load_csv(&m, "/nonexistent.csv", err, sizeof err) == -ENOENT, "%s", err);
	sky_release(&m);

	/* The reference catalog holds the sources of both truth files. */
	sky_init(&m);
	sky_init(&t);
	CHECK_OK(sky_load_csv(&m, test_data("reference/catalog.csv"), err, sizeof err), err);
	CHECK_OK(sky_load_truth_json(&t, test_data("reference/cal-0834/truth_2026-03-01T05:49:14.json"), NULL,
				     err, sizeof err), err);
	CHECK_OK(sky_load_truth_json(&t, test_data("reference/field-0834-plus1h/truth_2026-03-01T06:50:09.json"),
				     NULL, err, sizeof err), err);
	CHECK(m.n == 61 && t.n == 61, "catalog %d, truth %d", m.n, t.n);
	for (int i = 0; i < m.n && i < t.n; i++) {
		CHECK(!strcmp(m.src[i].name, t.src[i].name), "%s vs %s", m.src[i].name, t.src[i].name);
		CHECK(astro_separation(m.src[i].ra_rad, m.src[i].dec_rad, t.src[i].ra_rad, t.src[i].dec_rad) <
		      1e-3 / 3600 * D2R, "%s position", m.src[i].name);
		CHECK_NEAR(m.src[i].flux_jy, t.src[i].flux_jy, 1e-6);
		CHECK_NEAR(m.src[i].alpha, t.src[i].alpha, 1e-3);
	}
	CHECK(sky_load_truth_json(&t, "/nonexistent.json", NULL, err, sizeof err) < 0, "%s", "missing json");
	sky_release(&m);
	sky_release(&t);
}

/* After rephasing, the direction cosines in the uvw frame are the ICRS
 * tangent-plane offsets from the ICRS centre (what a RA---SIN/DEC--SIN WCS
 * with RADESYS ICRS assumes) to second order (~1e-4 · θ²).  Had uvw been left
 * in the apparent frame of date, 26 years of precession would rotate the
 * field by ~0.15° (~16" at 1.7°); the plain east/north basis of the aberrated
 * centre still rotates it by Δα·sin δ ≈ 1.4e-4 (0.8" at 1.7°). */
static void test_fixed_frame_is_icrs(void)
{
	vis_set *f = small_set(VIS_PHASE_FIXED);
	char err[ERR_LEN] = "";
	double worst = 0;

	CHECK(f != NULL, "%s", "alloc");
	if (!f)
		return;
	for (int k = 0; k < 8; k++) {
		double pa = k * M_PI / 4, off = (k % 2 ? 1.7 : 0.8) * D2R, ra, dec, lmn[3], l, m, n, e;
		double d0 = f->phase_dec_rad;
		/* A point `off` from the centre at position angle pa (exact spherical offset). */
		dec = asin(sin(d0) * cos(off) + cos(d0) * sin(off) * cos(pa));
		ra = f->phase_ra_rad + atan2(sin(pa) * sin(off) * cos(d0), cos(off) - sin(d0) * sin(dec));
		CHECK_OK(predict_source_geometry(f, 1, ra, dec, 0, lmn, NULL, err, sizeof err), err);
		astro_lmn(ra, dec, f->phase_ra_rad, f->phase_dec_rad, &l, &m, &n);
		e = hypot(lmn[0] - l, lmn[1] - m);
		worst = fmax(worst, e / off);
		CHECK(e < 1e-5 * off, "pa %d: offset %.3g rad (%.3f arcsec) at %.1f deg", k, e, e / D2R * 3600, off / D2R);
	}
	printf("# FIXED frame vs ICRS tangent plane: worst position error %.2e of the offset (%.4f arcsec at 1.7 deg)\n",
	       worst, worst * 1.7 * 3600);
	vis_free(f);
}

int main(void)
{
	RUN(test_fixed_frame_is_icrs);
	RUN_REF(test_sky_models);
	RUN(test_predict_vs_direct_drift);
	RUN(test_predict_fixed_equals_rephased_drift);
	RUN(test_eop_through_rephase);
	RUN(test_source_at_centre);
	RUN(test_rephase_fixed_to_fixed);
	RUN_REF(test_reference_cal);
	RUN_REF(test_reference_field);
	return TEST_DONE();
}
