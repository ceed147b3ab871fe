/*
 * tests/calib/test_solve.c — bandpass, gain and delay solves: against the
 * independent reference group cal-0834 (true gains known) and synthetic sets.
 */
#include "tests/test.h"

#include <complex.h>
#include <stdint.h>

#include "calib/apply.h"
#include "calib/flag.h"
#include "calib/solve.h"
#include "core/clock.h"
#include "core/convert.h"
#include "core/err.h"
#include "core/gaintab.h"
#include "core/predict.h"
#include "core/sky.h"
#include "core/vis.h"
#include "tests/refdata.h"
#include "tests/simorder.h"

/* ---- reference group helpers --------------------------------------------- */

typedef struct refgroup {
	vis_set *v;
	float complex *model;
	gaintab *truth;  /* true gains [time][ant][chan][pol] */
	sky_truth info;
} refgroup;

static void refgroup_free(refgroup *r)
{
	vis_free(r->v);
	free(r->model);
	gaintab_free(r->truth);
	memset(r, 0, sizeof *r);
}

/* Load cal-0834 (rephased like the pipeline when rephase), predict the truth
 * sky into r->model. */
static int load_reference(refgroup *r, int rephase)
{
	static char paths[16][1024];
	char truth[1024] = "", gains[1024] = "", err[ERR_LEN] = "";
	const char *pp[16];
	convert_params cp;
	predict_params pr;
	sky_model sky;
	vis_set shell;
	int n, ret;

	memset(r, 0, sizeof *r);
	n = group_files(test_data("reference/cal-0834"), paths, 16, truth, gains);
	CHECK(n == 16, "found %d subband files", n);
	if (n != 16)
		return -1;
	for (int i = 0; i < n; i++)
		pp[i] = paths[i];
	convert_params_default(&cp);
	cp.rephase = rephase;
	ret = convert_load_group(pp, n, &cp, &r->v, NULL, err, sizeof err);
	CHECK_OK(ret, err);
	if (ret)
		return -1;
	sky_init(&sky);
	ret = sky_load_truth_json(&sky, truth, &r->info, err, sizeof err);
	CHECK_OK(ret, err);
	if (!ret) {
		ret = gaintab_read(gains, &r->truth, err, sizeof err);
		CHECK_OK(ret, err);
	}
	if (!ret) {
		r->model = malloc(vis_nsamples(r->v) * sizeof *r->model);
		CHECK(r->model != NULL);
		ret = r->model ? 0 : -ENOMEM;
	}
	if (!ret) {
		/* predict_vis only writes v->vis: predict into a shell sharing v's
		 * metadata with the model buffer as its vis. */
		shell = *r->v;
		shell.vis = r->model;
		predict_params_default(&pr);
		ret = predict_vis(&shell, &sky, &pr, PREDICT_OVERWRITE, err, sizeof err);
		CHECK_OK(ret, err);
	}
	sky_release(&sky);
	if (ret)
		refgroup_free(r);
	return ret;
}

/* Time-averaged true gain of (antenna number, channel freq, hand). */
static double complex true_gain(const gaintab *t, int antnum, double freq_hz, int h)
{
	int a = gaintab_ant_index(t, antnum), c = 0;
	double complex s = 0;

	if (a < 0)
		return 0;
	for (int k = 1; k < t->nchan; k++)
		if (fabs(t->freq_hz[k] - freq_hz) < fabs(t->freq_hz[c] - freq_hz))
			c = k;
	for (int ti = 0; ti < t->ntime; ti++)
		s += t->gain[gaintab_idx(t, ti, a, c, h)];
	return s / t->ntime;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median amplitude error (fraction) and phase error (deg) of bandpass b vs the
 * truth, after referring the truth to b's refant phase per channel and
 * normalising each antenna's amplitude to mean 1 over b's unflagged channels. */
static void compare_bandpass(const gaintab *b, const gaintab *truth, double *ret_amp,
			     double *ret_phase_deg, double *ret_flagged)
{
	size_t n = (size_t)b->nant * b->nchan * b->npol, m = 0, nflag = 0;
	double *ea = malloc(n * sizeof *ea), *ep = malloc(n * sizeof *ep);
	int ref = gaintab_ant_index(b, b->refant);

	*ret_amp = *ret_phase_deg = NAN;
	if (!ea || !ep || ref < 0) {
		free(ea);
		free(ep);
		return;
	}
	for (int a = 0; a < b->nant; a++)
		for (int h = 0; h < b->npol; h++) {
			double complex gt[4096];
			double mean = 0;
			int cnt = 0;
			for (int c = 0; c < b->nchan && c < 4096; c++) {
				double complex gr = true_gain(truth, b->refant, b->freq_hz[c], h);
				gt[c] = true_gain(truth, b->antenna_numbers[a], b->freq_hz[c], h) *
					conj(gr) / cabs(gr);
				if (!b->flag[gaintab_idx(b, 0, a, c, h)]) {
					mean += cabs(gt[c]);
					cnt++;
				}
			}
			if (!cnt)
				continue;
			mean /= cnt;
			for (int c = 0; c < b->nchan && c < 4096; c++) {
				size_t x = gaintab_idx(b, 0, a, c, h);
				if (b->flag[x]) {
					nflag++;
					continue;
				}
				ea[m] = fabs(cabsf(b->gain[x]) / (cabs(gt[c]) / mean) - 1.0);
				ep[m] = fabs(carg(b->gain[x] * conj(gt[c]))) * 180.0 / M_PI;
				m++;
			}
		}
	qsort(ea, m, sizeof *ea, cmp_double);
	qsort(ep, m, sizeof *ep, cmp_double);
	if (m) {
		*ret_amp = ea[m / 2];
		*ret_phase_deg = ep[m / 2];
	}
	*ret_flagged = (double)nflag / n;
	free(ea);
	free(ep);
}

/*
 * The acceptance test of issue 5: bandpass on cal-0834 vs the true gains.
 * Expected noise: the calibrator (8.8 Jy × beam ≈ 0.85 at 0.67°) against
 * σ = 0.92 Jy per part, 23 baselines × 24 integrations per antenna and
 * channel → complex gain error ≈ 1.3 / (7.5 · 23.5) ≈ 0.74 %, so medians of
 * |amplitude error| ≈ 0.35 % and |phase error| ≈ 0.2° (× √2 with the refant's
 * own noise).  Bounds: 1 % and 1° (the goal), which are ~3× the noise medians.
 */
static refgroup ref;      /* loaded once, shared by the reference tests */
static int ref_loaded;

static refgroup *get_reference(void)
{
	if (!ref_loaded)
		ref_loaded = load_reference(&ref, 1) == 0 ? 1 : -1;
	return ref_loaded == 1 ? &ref : NULL;
}

static void test_reference_bandpass(void)
{
	refgroup *rp = get_reference(), r;
	const int rephase = 1;
	solve_params sp;
	solve_quality qb, qg;
	gaintab *b = NULL, *g = NULL;
	char err[ERR_LEN] = "";
	double amp_err, ph_err, fl;

	CHECK(rp != NULL);
	if (!rp)
		return;
	r = *rp;
	solve_params_init(&sp);
	snprintf(sp.calibrator, sizeof sp.calibrator, "0834+555");
	snprintf(sp.source_group, sizeof sp.source_group, "%.63s", r.v->name);
	CHECK_OK(solve_bandpass(r.v, r.model, NULL, &sp, &b, &qb, err, sizeof err), err);
	if (!b)
		goto out;
	CHECK(strcmp(b->type, "B") == 0 && b->nchan == r.v->nchan && b->npol == 2);
	compare_bandpass(b, r.truth, &amp_err, &ph_err, &fl);
	printf("# cal-0834 (%s): bandpass vs truth: median |amp err| %.3f %%, median |phase err| %.3f deg, "
	       "%.2f %% flagged, refant %d, median SNR %.1f, phase scatter %.2f deg\n",
	       rephase ? "rephased" : "drift", 100 * amp_err, ph_err, 100 * fl, b->refant,
	       qb.median_snr, qb.phase_scatter_deg);
	CHECK(amp_err < 0.01, "amplitude error %.4f", amp_err);
	CHECK(ph_err < 1.0, "phase error %.3f deg", ph_err);
	CHECK(fl < 0.01);
	CHECK(qb.max_iter_hit == 0);

	/* Gains after the bandpass: the amplitude must carry the flux scale the
	 * normalisation removed — |G| ≈ band-mean |g_true|. */
	CHECK_OK(solve_gains(r.v, r.model, NULL, b, &sp, &g, &qg, err, sizeof err), err);
	if (g) {
		double worst = 0;
		CHECK(g->ntime == 1 && g->nchan == 1 && strcmp(g->type, "G") == 0);
		for (int a = 0; a < g->nant; a++)
			for (int h = 0; h < 2; h++) {
				double mean = 0;
				for (int c = 0; c < r.v->nchan; c++)
					mean += cabs(true_gain(r.truth, g->antenna_numbers[a], r.v->freq_hz[c], h));
				mean /= r.v->nchan;
				worst = fmax(worst, fabs(cabsf(g->gain[gaintab_idx(g, 0, a, 0, h)]) / mean - 1));
			}
		printf("# cal-0834 (%s): gain amplitude vs band-mean true amplitude: worst %.3f %%; "
		       "G phase scatter %.2f deg\n", rephase ? "rephased" : "drift", 100 * worst,
		       qg.phase_scatter_deg);
		CHECK(worst < 0.01, "worst %.4f", worst);

		/* Apply and compare with the model: the flux scale of corrected data. */
		{
			double complex num = 0;
			double den = 0;
			vis_set *c = vis_dup(r.v);
			CHECK(c != NULL);
			if (c) {
				CHECK_OK(apply_solutions(c, NULL, b, g, 0, NULL, err, sizeof err), err);
				for (size_t i = 0; i < vis_nsamples(c); i++) {
					size_t row = i / ((size_t)c->nchan * c->npols);
					int bl = (int)(row % c->nbls);
					if (c->flags[i] || c->ant1[bl] == c->ant2[bl])
						continue;
					num += c->vis[i] * conjf(r.model[i]);
					den += cabsf(r.model[i]) * cabsf(r.model[i]);
				}
				printf("# cal-0834 (%s): corrected/model flux ratio %.4f, phase %.3f deg\n",
				       rephase ? "rephased" : "drift", creal(num) / den,
				       carg(num) * 180 / M_PI);
				CHECK_NEAR(creal(num) / den, 1.0, 0.01);
				CHECK(fabs(carg(num)) < 0.01);
				vis_free(c);
			}
		}
	}
out:
	gaintab_free(b);
	gaintab_free(g);
}

/* Dead reference antenna: the first listed refant is dead (flagged whole by
 * flag_run); the solve must fall back to the second listed one and keep the
 * accuracy; the dead antenna's solutions are all flagged. */
static void test_dead_refant(void)
{
	refgroup *rp = get_reference(), r;
	solve_params sp;
	flag_stats st;
	gaintab *b = NULL;
	char err[ERR_LEN] = "";
	int dead, second;
	double amp_err, ph_err, fl;

	CHECK(rp != NULL);
	if (!rp)
		return;
	r = *rp;
	r.v = vis_dup(rp->v); /* this test damages the data */
	CHECK(r.v != NULL);
	if (!r.v)
		return;
	dead = r.v->ant1[1];       /* an antenna that is certainly on baselines */
	second = r.v->ant2[5];
	for (int t = 0; t < r.v->ntimes; t++)
		for (int bl = 0; bl < r.v->nbls; bl++)
			if (r.v->ant1[bl] == dead || r.v->ant2[bl] == dead)
				for (int c = 0; c < r.v->nchan; c++)
					for (int p = 0; p < r.v->npols; p++)
						r.v->vis[vis_idx(r.v, t, bl, c, p)] = 0;
	CHECK_OK(flag_run(r.v, NULL, &st, err, sizeof err), err);
	CHECK(st.ndead == 1 && st.dead_ants[0] == dead);
	printf("# dead refant %d: flag_run flagged %.2f %% (rfi %.3f %%)\n", dead,
	       100 * st.total_frac, 100 * st.reason_frac[FLAG_R_RFI]);
	flag_stats_release(&st);

	solve_params_init(&sp);
	sp.nrefants = 2;
	sp.refants[0] = dead;
	sp.refants[1] = second;
	CHECK(solve_choose_refant(r.v, &sp) == second);
	CHECK_OK(solve_bandpass(r.v, r.model, NULL, &sp, &b, NULL, err, sizeof err), err);
	if (b) {
		int ia = gaintab_ant_index(b, dead);
		CHECK(b->refant == second, "refant %d", b->refant);
		if (ia >= 0)
			for (int c = 0; c < b->nchan; c++)
				CHECK(b->flag[gaintab_idx(b, 0, ia, c, 0)] && b->flag[gaintab_idx(b, 0, ia, c, 1)]);
		compare_bandpass(b, r.truth, &amp_err, &ph_err, &fl);
		printf("# dead refant: fell back to %d; median |amp err| %.3f %%, |phase err| %.3f deg\n",
		       b->refant, 100 * amp_err, ph_err);
		CHECK(amp_err < 0.01 && ph_err < 1.0);
	}
	/* Without a usable list, the best-connected antenna is chosen. */
	sp.nrefants = 1;
	sp.refants[0] = dead;
	CHECK(solve_choose_refant(r.v, &sp) != dead && solve_choose_refant(r.v, &sp) >= 0);
	gaintab_free(b);
	vis_free(r.v);
}

/* ---- synthetic sets ------------------------------------------------------- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double urand(void) { return test_urand(&rng); }
static double grand(void) { return test_grand(&rng); }

/* A point source of 5 Jy at the phase centre (model = 5 everywhere), gains
 * g(a, c, h, t) = B(a, c, h) · exp(i φ(a, h) t) · D(a, h, c) with
 * D = exp(2πi ν τ_a), noise σ per part. */
static vis_set *synth(int nant, int nchan, int ntimes, double sigma, const double *tau_ns,
		      double drift_rad, float complex **ret_model, double complex *gtrue)
{
	int nbl = nant * (nant + 1) / 2, b = 0;
	vis_set *v = vis_new(ntimes, nbl, nchan, 2, nant);
	float complex *m;

	if (!v)
		return NULL;
	m = malloc(vis_nsamples(v) * sizeof *m);
	if (!m) {
		vis_free(v);
		return NULL;
	}
	for (int a = 0; a < nant; a++) {
		v->ants[a].number = 10 + 2 * a;
		snprintf(v->ants[a].name, sizeof v->ants[a].name, "%d", 11 + 2 * a);
	}
	for (int i = 0; i < nant; i++)
		for (int j = i; j < nant; j++, b++) {
			v->ant1[b] = 10 + 2 * i;
			v->ant2[b] = 10 + 2 * j;
		}
	for (int c = 0; c < nchan; c++)
		v->freq_hz[c] = 1.31e9 + c * 1.0e6;
	v->chan_width_hz = 1.0e6;
	for (int t = 0; t < ntimes; t++)
		v->time_jd[t] = 2461100.5 + t * 12.885 / 86400;
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	snprintf(v->name, sizeof v->name, "synth");
	/* gtrue[((t*nant + a)*nchan + c)*2 + h] */
	for (int a = 0; a < nant; a++)
		for (int h = 0; h < 2; h++) {
			double amp = 0.7 + 0.6 * urand(), ph0 = 2 * M_PI * urand(), rip = 0.1 * urand();
			double rate = drift_rad * (urand() - 0.5);
			for (int c = 0; c < nchan; c++) {
				double complex bp = amp * (1 + rip * sin(c * 0.3 + a)) *
						    cexp(I * (ph0 + 0.3 * sin(0.05 * c + h)));
				if (tau_ns)
					bp *= cexp(2 * M_PI * I * v->freq_hz[c] * tau_ns[a] * 1e-9);
				for (int t = 0; t < ntimes; t++)
					gtrue[(((size_t)t * nant + a) * nchan + c) * 2 + h] =
						bp * cexp(I * rate * (t - ntimes / 2.0));
			}
		}
	for (int t = 0; t < ntimes; t++)
		for (b = 0; b < nbl; b++) {
			int i = (v->ant1[b] - 10) / 2, j = (v->ant2[b] - 10) / 2;
			for (int c = 0; c < nchan; c++)
				for (int h = 0; h < 2; h++) {
					size_t x = vis_idx(v, t, b, c, h);
					double complex gi = gtrue[(((size_t)t * nant + i) * nchan + c) * 2 + h];
					double complex gj = gtrue[(((size_t)t * nant + j) * nchan + c) * 2 + h];
					m[x] = 5.0f;
					v->vis[x] = gi * 5.0 * conj(gj) + sigma * (grand() + I * grand());
				}
		}
	*ret_model = m;
	return v;
}

/* Per-integration phase gains after a group bandpass follow a phase drift. */
static void test_gains_per_integration(void)
{
	enum { NA = 10, NC = 32, NT = 12 };
	static double complex gt[NT * NA * NC * 2];
	float complex *m = NULL;
	vis_set *v = synth(NA, NC, NT, 0.5, NULL, 0.05, &m, gt);
	solve_params sp;
	gaintab *b = NULL, *g = NULL, *g1 = NULL;
	solve_quality q, q1;
	char err[ERR_LEN] = "";
	double worst = 0, ss = 0;
	size_t nss = 0;

	CHECK(v != NULL);
	if (!v)
		return;
	solve_params_init(&sp);
	sp.nrefants = 1;
	sp.refants[0] = 10;
	CHECK_OK(solve_bandpass(v, m, NULL, &sp, &b, NULL, err, sizeof err), err);
	sp.solint_s = -1;
	CHECK_OK(solve_gains(v, m, NULL, b, &sp, &g, &q, err, sizeof err), err);
	sp.solint_s = 0;
	CHECK_OK(solve_gains(v, m, NULL, b, &sp, &g1, &q1, err, sizeof err), err);
	if (!b || !g || !g1)
		goto out;
	CHECK(g->ntime == NT && g1->ntime == 1);
	CHECK(g->refant == 10 && b->refant == 10);
	/* B·G must reproduce the truth referred to antenna 10, per integration. */
	for (int t = 0; t < NT; t++)
		for (int a = 0; a < NA; a++)
			for (int c = 0; c < NC; c++)
				for (int h = 0; h < 2; h++) {
					double complex tr = gt[(((size_t)t * NA + a) * NC + c) * 2 + h];
					double complex t0 = gt[(((size_t)t * NA + 0) * NC + c) * 2 + h];
					double complex est = b->gain[gaintab_idx(b, 0, a, c, h)] *
							     g->gain[gaintab_idx(g, t, a, 0, h)];
					double e = fabs(carg(est * conj(tr * conj(t0) / cabs(t0))));
					worst = fmax(worst, e);
					ss += e * e;
					nss++;
				}
	printf("# per-integration gains: phase error rms %.2f deg, worst %.2f deg (drift up to ±%.1f deg); "
	       "time scatter %.2f deg vs group solve %.2f deg\n",
	       sqrt(ss / nss) * 180 / M_PI, worst * 180 / M_PI, 0.025 * NT / 2 * 180 / M_PI,
	       q.phase_scatter_deg, q1.phase_scatter_deg);
	/* Noise: |V| = 5 |g|² with |g| in 0.7–1.3 against σ = 0.5 per part.  B's
	 * per-channel solve (9 baselines × 12 integrations) has σ_phase ≈
	 * 0.5 / (5 · |g_a| · |g_b|~1) / √108 ≈ 0.4–1.1°; G's per-integration
	 * solve (9 × 32 samples) ≈ 0.3–0.7°: rms ≈ 0.8°, worst of 7680 ≈ 4σ.
	 * (A drift of tens of degrees within the group would bias the group
	 * bandpass: the time average of g_a conj(g_b) then no longer factorises.) */
	CHECK(sqrt(ss / nss) * 180 / M_PI < 1.2, "rms %.2f deg", sqrt(ss / nss) * 180 / M_PI);
	CHECK(worst * 180 / M_PI < 5.0, "worst %.2f deg", worst * 180 / M_PI);
	CHECK(q.flagged_frac == 0);
	CHECK(g->time_mjd[3] > g->time_mjd[2]);
out:
	gaintab_free(b);
	gaintab_free(g);
	gaintab_free(g1);
	free(m);
	vis_free(v);
}

static void test_delay(void)
{
	enum { NA = 8, NC = 64, NT = 4 };
	static double complex gt[NT * NA * NC * 2];
	double tau[NA];
	float complex *m = NULL;
	vis_set *v;
	solve_params sp;
	gaintab *k = NULL, *b = NULL;
	double *dns = NULL, worst = 0;
	char err[ERR_LEN] = "";

	for (int a = 0; a < NA; a++)
		tau[a] = 10.0 * (urand() - 0.5); /* ±5 ns */
	v = synth(NA, NC, NT, 0.3, tau, 0.0, &m, gt);
	CHECK(v != NULL);
	if (!v)
		return;
	solve_params_init(&sp);
	sp.nrefants = 1;
	sp.refants[0] = 10;
	CHECK_OK(solve_delay(v, m, &sp, &k, &dns, NULL, err, sizeof err), err);
	if (!k || !dns)
		goto out;
	/* The synthetic bandpass adds 0.3 sin(0.05 c) rad of phase, i.e. a slope
	 * of ≤ 0.015 rad/MHz ≈ 2.4 ps: negligible.  Delays are relative to
	 * antenna 10 (index 0). */
	for (int a = 0; a < NA; a++)
		for (int h = 0; h < 2; h++)
			worst = fmax(worst, fabs(dns[a * 2 + h] - (tau[a] - tau[0])));
	printf("# delay: worst error %.4f ns over %d antennas (|τ| <= 5 ns)\n", worst, NA);
	CHECK(worst < 0.05, "worst %.4f ns", worst);
	CHECK(strcmp(k->type, "K") == 0);
	/* With K applied, the bandpass solve still reproduces the data. */
	CHECK_OK(solve_bandpass(v, m, k, &sp, &b, NULL, err, sizeof err), err);
	if (b) {
		vis_set *c = vis_dup(v);
		double rms = 0;
		size_t n = 0;
		gaintab *g = NULL;
		CHECK(c != NULL);
		CHECK_OK(solve_gains(v, m, k, b, &sp, &g, NULL, err, sizeof err), err);
		if (c && g) {
			CHECK_OK(apply_solutions(c, k, b, g, 0, NULL, err, sizeof err), err);
			for (size_t i = 0; i < vis_nsamples(c); i++) {
				size_t row = i / ((size_t)NC * 2);
				int bl = (int)(row % c->nbls);
				if (c->ant1[bl] == c->ant2[bl] || c->flags[i])
					continue;
				rms += cabsf(c->vis[i] - m[i]) * cabsf(c->vis[i] - m[i]);
				n++;
			}
			rms = sqrt(rms / n);
			printf("# K+B+G corrected residual rms %.3f Jy (noise/|g|² ≈ %.3f)\n", rms, 0.3 * sqrt(2.0));
			CHECK(rms < 1.0, "rms %.3f", rms);
		}
		gaintab_free(g);
		vis_free(c);
	}
out:
	free(dns);
	gaintab_free(k);
	gaintab_free(b);
	free(m);
	vis_free(v);
}

/* Low SNR channels get flagged: a channel where the data are pure noise. */
static void test_low_snr_flagged(void)
{
	enum { NA = 8, NC = 16, NT = 4 };
	static double complex gt[NT * NA * NC * 2];
	float complex *m = NULL;
	vis_set *v = synth(NA, NC, NT, 0.2, NULL, 0.0, &m, gt);
	solve_params sp;
	gaintab *b = NULL;
	solve_quality q;
	char err[ERR_LEN] = "";

	CHECK(v != NULL);
	if (!v)
		return;
	/* Channel 5: the source vanishes from the data but not from the model. */
	for (int t = 0; t < NT; t++)
		for (int bl = 0; bl < v->nbls; bl++)
			for (int h = 0; h < 2; h++)
				v->vis[vis_idx(v, t, bl, 5, h)] = 0.2f * (float)(grand() + I * grand());
	solve_params_init(&sp);
	CHECK_OK(solve_bandpass(v, m, NULL, &sp, &b, &q, err, sizeof err), err);
	if (b) {
		int nflag5 = 0, nflag_other = 0;
		for (int a = 0; a < NA; a++)
			for (int c = 0; c < NC; c++) {
				int f = b->flag[gaintab_idx(b, 0, a, c, 0)];
				if (c == 5)
					nflag5 += f;
				else
					nflag_other += f;
			}
		printf("# low SNR: %d/%d flagged in the empty channel, %d elsewhere; median SNR %.1f\n",
		       nflag5, NA, nflag_other, q.median_snr);
		CHECK(nflag5 >= NA - 1, "only %d flagged", nflag5);
		CHECK(nflag_other == 0);
		/* Amplitude normalised to mean 1 over unflagged channels. */
		for (int a = 0; a < NA; a++) {
			double s = 0;
			int n = 0;
			for (int c = 0; c < NC; c++)
				if (!b->flag[gaintab_idx(b, 0, a, c, 1)]) {
					s += cabsf(b->gain[gaintab_idx(b, 0, a, c, 1)]);
					n++;
				}
			CHECK_NEAR(s / n, 1.0, 1e-5);
		}
	}
	gaintab_free(b);
	free(m);
	vis_free(v);
}

/*
 * Full-size timing (96 antennas, 768 channels, 24 integrations, XX/YY):
 * runs only with CONTIMG_BENCH=1 (make bench), prints seconds and Mvis/s
 * for flag, bandpass, gains and apply on in-memory synthetic data.
 */
#include <omp.h>
#include <sys/resource.h>
#include <time.h>

/* CPU seconds of the process (all threads): with other load on the machine
 * the wall time overstates the cost, CPU / threads does not. */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + ru.ru_stime.tv_sec +
	       1e-6 * ru.ru_stime.tv_usec;
}

static void bench_full_size(void)
{
	enum { NA = 96, NC = 768, NT = 24 };
	int nbl = NA * (NA + 1) / 2;
	vis_set *v = vis_new(NT, nbl, NC, 2, NA);
	float complex *m = v ? malloc(vis_nsamples(v) * sizeof *m) : NULL;
	solve_params sp;
	gaintab *b = NULL, *g = NULL;
	flag_stats st;
	char err[ERR_LEN] = "";
	double t0, c0, t_flag, t_b, t_g, t_apply, c_flag, c_b, c_g, c_apply, mvis;

	CHECK(v && m);
	if (!v || !m)
		goto out;
	for (int a = 0, bl = 0; a < NA; a++) {
		v->ants[a].number = a;
		for (int j = a; j < NA; j++, bl++) {
			v->ant1[bl] = a;
			v->ant2[bl] = j;
		}
	}
	for (int c = 0; c < NC; c++)
		v->freq_hz[c] = 1311.37e6 + c * 244140.625;
	v->chan_width_hz = 244140.625;
	for (int t = 0; t < NT; t++)
		v->time_jd[t] = 2461100.5 + t * 12.885 / 86400;
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	snprintf(v->name, sizeof v->name, "bench");
	/* Calibrator-like: 6 Jy point source, per-antenna smooth gains, σ = 2.6 Jy
	 * per part (DSA-110: SEFD 6500 Jy, 244 kHz, 12.9 s). */
#pragma omp parallel for schedule(dynamic, 16)
	for (int bl = 0; bl < nbl; bl++) {
		uint64_t s = 0x9E3779B97F4A7C15ull * (bl + 1);
		int i = v->ant1[bl], j = v->ant2[bl];
		for (int t = 0; t < NT; t++)
			for (int c = 0; c < NC; c++)
				for (int h = 0; h < 2; h++) {
					size_t x = vis_idx(v, t, bl, c, h);
					float complex gi = (1 + 0.01f * i) * cexpf(I * (0.1f * i + 0.002f * c * (i % 7)));
					float complex gj = (1 + 0.01f * j) * cexpf(I * (0.1f * j + 0.002f * c * (j % 7)));
					double u1, u2;
					s ^= s << 13; s ^= s >> 7; s ^= s << 17;
					u1 = ((s >> 11) + 0.5) / 9007199254740992.0;
					s ^= s << 13; s ^= s >> 7; s ^= s << 17;
					u2 = ((s >> 11) + 0.5) / 9007199254740992.0;
					m[x] = 6.0f;
					v->vis[x] = gi * 6.0f * conjf(gj) +
						    2.6f * (float)sqrt(-2 * log(u1)) * cexpf(I * (float)(2 * M_PI * u2));
					v->weight[x] = 24.0f;
				}
	}
	mvis = vis_nsamples(v) / 1e6;
	t0 = clk_mono_s();
	c0 = cpu_s();
	CHECK_OK(flag_run(v, NULL, &st, err, sizeof err), err);
	t_flag = clk_mono_s() - t0;
	c_flag = cpu_s() - c0;
	printf("# bench: flag     %6.2f s wall, %6.2f s CPU (%.1f Mvis/s per CPU-s), flagged %.3f %%\n",
	       t_flag, c_flag, mvis / c_flag, 100 * st.total_frac);
	flag_stats_release(&st);
	solve_params_init(&sp);
	t0 = clk_mono_s();
	c0 = cpu_s();
	CHECK_OK(solve_bandpass(v, m, NULL, &sp, &b, NULL, err, sizeof err), err);
	t_b = clk_mono_s() - t0;
	c_b = cpu_s() - c0;
	t0 = clk_mono_s();
	c0 = cpu_s();
	CHECK_OK(solve_gains(v, m, NULL, b, &sp, &g, NULL, err, sizeof err), err);
	t_g = clk_mono_s() - t0;
	c_g = cpu_s() - c0;
	t0 = clk_mono_s();
	c0 = cpu_s();
	CHECK_OK(apply_solutions(v, NULL, b, g, 0, NULL, err, sizeof err), err);
	t_apply = clk_mono_s() - t0;
	c_apply = cpu_s() - c0;
	printf("# bench: %d ants, %d chans, %d ints, %.1f Mvis, %d threads\n", NA, NC, NT, mvis,
	       omp_get_max_threads());
	printf("# bench: bandpass %6.2f s wall, %6.2f s CPU\n", t_b, c_b);
	printf("# bench: gains    %6.2f s wall, %6.2f s CPU\n", t_g, c_g);
	printf("# bench: solve    %6.2f s wall, %6.2f s CPU (%.1f Mvis/s per CPU-s)\n", t_b + t_g,
	       c_b + c_g, mvis / (c_b + c_g));
	printf("# bench: apply    %6.2f s wall, %6.2f s CPU (%.1f Mvis/s per CPU-s)\n", t_apply,
	       c_apply, mvis / c_apply);
out:
	gaintab_free(b);
	gaintab_free(g);
	free(m);
	vis_free(v);
}

/* Median |amplitude error| (fraction) and |phase error| (deg) of bandpass b
 * for one antenna against the truth, as compare_bandpass does for all. */
static void bandpass_ant_errors(const gaintab *b, const gaintab *truth, int antnum,
				double *ret_amp, double *ret_phase_deg)
{
	double ea[2 * 4096], ep[2 * 4096];
	int a = gaintab_ant_index(b, antnum), m = 0;

	*ret_amp = *ret_phase_deg = NAN;
	if (a < 0 || b->nchan > 4096)
		return;
	for (int h = 0; h < b->npol; h++) {
		double complex gt[4096];
		double mean = 0;
		int cnt = 0;
		for (int c = 0; c < b->nchan; c++) {
			double complex gr = true_gain(truth, b->refant, b->freq_hz[c], h);
			gt[c] = true_gain(truth, antnum, b->freq_hz[c], h) * conj(gr) / cabs(gr);
			if (!b->flag[gaintab_idx(b, 0, a, c, h)]) {
				mean += cabs(gt[c]);
				cnt++;
			}
		}
		for (int c = 0; c < b->nchan && cnt; c++) {
			size_t x = gaintab_idx(b, 0, a, c, h);
			if (b->flag[x])
				continue;
			ea[m] = fabs(cabsf(b->gain[x]) / (cabs(gt[c]) / (mean / cnt)) - 1.0);
			ep[m] = fabs(carg(b->gain[x] * conj(gt[c]))) * 180.0 / M_PI;
			m++;
		}
	}
	if (m) {
		qsort(ea, m, sizeof *ea, cmp_double);
		qsort(ep, m, sizeof *ep, cmp_double);
		*ret_amp = ea[m / 2];
		*ret_phase_deg = ep[m / 2];
	}
}

/* Largest |x − y| / |y| between two tables' unflagged solutions, matched by
 * antenna number; *ret_flag_diff counts solutions flagged in one only. */
static double table_diff(const gaintab *x, const gaintab *y, long *ret_flag_diff)
{
	double worst = 0;
	long fd = 0;

	if (x->nant != y->nant || x->nchan != y->nchan || x->ntime != y->ntime || x->npol != y->npol)
		return INFINITY;
	for (int a = 0; a < x->nant; a++) {
		int ay = gaintab_ant_index(y, x->antenna_numbers[a]);
		if (ay < 0)
			return INFINITY;
		for (int t = 0; t < x->ntime; t++)
			for (int c = 0; c < x->nchan; c++)
				for (int h = 0; h < x->npol; h++) {
					size_t i = gaintab_idx(x, t, a, c, h), j = gaintab_idx(y, t, ay, c, h);
					if (x->flag[i] != y->flag[j]) {
						fd++;
						continue;
					}
					if (!x->flag[i])
						worst = fmax(worst, cabsf(x->gain[i] - y->gain[j]) / cabsf(y->gain[j]));
				}
	}
	*ret_flag_diff = fd;
	return worst;
}

/*
 * Rows with ant_1 > ant_2 (the correlator's order, docs/simulator.md): a
 * calibrator group simulated in ascending and in correlator order (28 real
 * stations with DSA-102 and DSA-116, antennas 101 and 115, whose 21 baselines
 * the order reverses; tests/simorder.h), flagged, then B and G solved on each.
 * (1) The two orders give the same tables (same refant, same antennas, the
 *     same solutions to float rounding).
 * (2) Against the true gains the simulator wrote (gains_*.h5), per antenna:
 *     101 and 115 as accurate as the others.  Expected noise as in
 *     test_cal_rfi: 27 baselines × 24 integrations per antenna and channel at
 *     ≈ 8 Jy against σ = 0.92 Jy → medians ≈ 0.3 % and 0.2°; bounds 1 % / 1°.
 * (3) The G amplitude carries the flux scale: |G| = band-mean |g_true| ± 1 %.
 * (4) Applied, the corrected data equal the model on the reversed rows alone
 *     (flux ratio 1 ± 1 %, phase 0 ± 0.5°), i.e. apply uses g[ant_1],
 *     conj(g[ant_2]) of the row as written.
 */
static void test_correlator_order(void)
{
	simorder s;
	simorder_opts o;
	gaintab *truth = NULL, *b[2] = {NULL, NULL}, *g[2] = {NULL, NULL};
	solve_quality qb[2], qg[2];
	char err[ERR_LEN] = "";
	int ok = 1;

	simorder_opts_init(&o);
	if (simorder_make(&s, "solve", &o) != 0)
		goto out;
	CHECK(simorder_reversed(s.v[1]) == 21 && simorder_reversed(s.v[0]) == 0);
	CHECK_OK(gaintab_read(s.res[1].gains_path, &truth, err, sizeof err), err);
	for (int k = 0; k < 2 && truth; k++) {
		solve_params sp;
		flag_stats st;
		solve_params_init(&sp);
		sp.nthreads = 2;
		snprintf(sp.calibrator, sizeof sp.calibrator, "CAL");
		CHECK_OK(flag_run(s.v[k], NULL, &st, err, sizeof err), err);
		flag_stats_release(&st);
		CHECK_OK(solve_bandpass(s.v[k], s.model[k], NULL, &sp, &b[k], &qb[k], err, sizeof err), err);
		if (b[k])
			CHECK_OK(solve_gains(s.v[k], s.model[k], NULL, b[k], &sp, &g[k], &qg[k], err,
					     sizeof err), err);
		ok &= b[k] && g[k];
	}
	if (!ok || !truth)
		goto out;

	/* (1) The same tables. */
	{
		long fb = 0, fg = 0;
		double db = table_diff(b[1], b[0], &fb), dg = table_diff(g[1], g[0], &fg);
		printf("# correlator vs ascending order: refant %d / %d; B differs by %.2g (relative), "
		       "%ld flags; G by %.2g, %ld flags\n", qb[1].refant, qb[0].refant, db, fb, dg, fg);
		CHECK(qb[0].refant == qb[1].refant && qg[0].refant == qg[1].refant,
		      "refant %d vs %d", qb[1].refant, qb[0].refant);
		CHECK(db < 1e-4 && fb == 0, "B: %g, %ld flags", db, fb);
		CHECK(dg < 1e-4 && fg == 0, "G: %g, %ld flags", dg, fg);
	}

	/* (2) Per antenna against the truth, and (3) the G amplitudes. */
	for (int k = 1; k >= 0; k--) {
		double worst_amp = 0, worst_ph = 0, worst_g = 0, amp_rev[2], ph_rev[2];
		int nrev = 0;
		for (int a = 0; a < b[k]->nant; a++) {
			int num = b[k]->antenna_numbers[a], ig = gaintab_ant_index(g[k], num);
			double ea, ep;
			bandpass_ant_errors(b[k], truth, num, &ea, &ep);
			if (num == b[k]->refant)
				continue; /* the reference: 0 phase by construction */
			worst_amp = fmax(worst_amp, ea);
			worst_ph = fmax(worst_ph, ep);
			if (num == 101 || num == 115) {
				amp_rev[nrev] = ea;
				ph_rev[nrev++] = ep;
			}
			for (int h = 0; h < 2 && ig >= 0; h++) {
				double mean = 0;
				for (int c = 0; c < s.v[k]->nchan; c++)
					mean += cabs(true_gain(truth, num, s.v[k]->freq_hz[c], h));
				mean /= s.v[k]->nchan;
				worst_g = fmax(worst_g, fabs(cabsf(g[k]->gain[gaintab_idx(g[k], 0, ig, 0, h)]) / mean - 1));
			}
		}
		printf("# %s order: B vs truth per antenna (median over channels): worst of all |amp err| "
		       "%.3f %%, |phase err| %.3f deg; antenna 101: %.3f %% %.3f deg, antenna 115: %.3f %% %.3f deg; "
		       "G amplitude vs band-mean truth: worst %.3f %%\n",
		       k ? "correlator" : "ascending", 100 * worst_amp, worst_ph,
		       nrev > 0 ? 100 * amp_rev[0] : NAN, nrev > 0 ? ph_rev[0] : NAN,
		       nrev > 1 ? 100 * amp_rev[1] : NAN, nrev > 1 ? ph_rev[1] : NAN, 100 * worst_g);
		CHECK(nrev == 2, "antennas 101 and 115 solved: %d", nrev);
		CHECK(worst_amp < 0.01 && worst_ph < 1.0, "%s: %g, %g deg", k ? "correlator" : "ascending",
		      worst_amp, worst_ph);
		CHECK(worst_g < 0.01, "G amplitude %g", worst_g);
	}

	/* (4) Apply on the correlator-order set; compare with the model on the
	 * reversed rows only. */
	{
		vis_set *c = vis_dup(s.v[1]);
		double complex num = 0;
		double den = 0;
		long n = 0;
		CHECK(c != NULL);
		if (c) {
			size_t per = (size_t)c->nchan * c->npols;
			CHECK_OK(apply_solutions(c, NULL, b[1], g[1], 0, NULL, err, sizeof err), err);
			for (size_t i = 0; i < vis_nsamples(c); i++) {
				int bl = (int)(i / per % c->nbls);
				if (c->flags[i] || c->ant1[bl] <= c->ant2[bl])
					continue;
				num += c->vis[i] * conjf(s.model[1][i]);
				den += cabsf(s.model[1][i]) * cabsf(s.model[1][i]);
				n++;
			}
			printf("# correlator order, %ld samples on rows with ant_1 > ant_2: corrected/model "
			       "flux ratio %.4f, phase %.3f deg\n", n, den > 0 ? creal(num) / den : NAN,
			       carg(num) * 180 / M_PI);
			CHECK(n > 10000, "%ld samples", n);
			CHECK(den > 0 && fabs(creal(num) / den - 1) < 0.01, "ratio %g", creal(num) / den);
			CHECK(fabs(carg(num)) * 180 / M_PI < 0.5, "phase %g deg", carg(num) * 180 / M_PI);
			vis_free(c);
		}
	}
out:
	for (int k = 0; k < 2; k++) {
		gaintab_free(b[k]);
		gaintab_free(g[k]);
	}
	gaintab_free(truth);
	simorder_free(&s);
}

/* The solved antennas and the reference antenna must not depend on the order
 * the file lists its baselines in.  Unflagged data give every antenna the
 * same connectivity, so the refant is decided by the tie-break: the lowest
 * antenna number (before issue 19: the antenna seen first in the file, which
 * in a descending input order is the highest).  Stations in descending order
 * (every cross row reversed) against ascending, B solved without flagging. */
static void test_order_tie_break(void)
{
	simorder s;
	simorder_opts o;
	int desc[SIM_NSTATIONS];
	gaintab *b[2] = {NULL, NULL};
	solve_quality q[2];
	char err[ERR_LEN] = "";

	for (int i = 0; i < SIM_NSTATIONS; i++)
		desc[i] = SIM_NSTATIONS - i;
	simorder_opts_init(&o);
	o.order = desc;
	o.norder = SIM_NSTATIONS;
	o.ntimes = 4;
	if (simorder_make(&s, "tie", &o) != 0)
		goto out;
	CHECK(simorder_reversed(s.v[1]) == 28 * 27 / 2);
	for (int k = 0; k < 2; k++) {
		solve_params sp;
		solve_params_init(&sp);
		sp.nthreads = 2;
		CHECK_OK(solve_bandpass(s.v[k], s.model[k], NULL, &sp, &b[k], &q[k], err, sizeof err), err);
	}
	if (b[0] && b[1]) {
		long fd = 0;
		int same_axis = b[0]->nant == b[1]->nant;
		double d = table_diff(b[1], b[0], &fd);
		for (int a = 0; same_axis && a < b[0]->nant; a++)
			same_axis &= b[0]->antenna_numbers[a] == b[1]->antenna_numbers[a] &&
				     (a == 0 || b[0]->antenna_numbers[a] > b[0]->antenna_numbers[a - 1]);
		printf("# descending vs ascending order, unflagged: refant %d / %d, antenna axis %s, "
		       "B differs by %.2g\n", q[1].refant, q[0].refant, same_axis ? "the same (ascending)" : "differs", d);
		CHECK(q[0].refant == 0 && q[1].refant == 0, "refant %d / %d", q[1].refant, q[0].refant);
		CHECK(same_axis);
		CHECK(d < 1e-4 && fd == 0, "B: %g, %ld flags", d, fd);
	}
out:
	gaintab_free(b[0]);
	gaintab_free(b[1]);
	simorder_free(&s);
}

int main(void)
{
	if (getenv("CONTIMG_BENCH") && atoi(getenv("CONTIMG_BENCH")) > 0) {
		RUN(bench_full_size);
		return TEST_DONE();
	}
	RUN_REF(test_reference_bandpass);
	RUN_REF(test_dead_refant);
	RUN(test_gains_per_integration);
	RUN(test_delay);
	RUN(test_low_snr_flagged);
	RUN(test_correlator_order);
	RUN(test_order_tie_break);
	if (ref_loaded == 1)
		refgroup_free(&ref);
	return TEST_DONE();
}
