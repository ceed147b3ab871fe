/* tests/calib/test_flag.c — flagging on simulated noise with a smooth sky,
 * injected RFI and dead antennas. */
#include "tests/test.h"

#include <complex.h>
#include <stdint.h>

#include "calib/flag.h"
#include "core/err.h"
#include "core/vis.h"
#include "tests/simorder.h"

#define NANT 16
#define NT 24
#define NCHAN 96

/* Deterministic Gaussian noise (xorshift + Box–Muller). */
static uint64_t rng_state = 88172645463325252ull;
static double urand(void) { return test_urand(&rng_state); }
static double grand(void) { return test_grand(&rng_state); }

/* A set with autos: 16 antennas on a ~1 km random layout, three point sources
 * that drift across the field (so amplitudes beat smoothly in time and
 * frequency), complex noise σ = 1 per part, autos at 100 ± noise. */
static vis_set *make_set(void)
{
	int nbl = NANT * (NANT + 1) / 2, b = 0;
	vis_set *v = vis_new(NT, nbl, NCHAN, 2, NANT);
	double pos[NANT][2];
	const double src_l[3] = {0.0, 0.010, -0.015}, src_m[3] = {0.0, 0.008, 0.004};
	const double src_s[3] = {2.3, 0.6, 0.3};

	if (!v)
		return NULL;
	rng_state = 88172645463325252ull;
	for (int a = 0; a < NANT; a++) {
		v->ants[a].number = a + 3; /* numbers need not equal indices */
		snprintf(v->ants[a].name, sizeof v->ants[a].name, "%d", a + 4);
		pos[a][0] = 1000.0 * (urand() - 0.5);
		pos[a][1] = 1000.0 * (urand() - 0.5);
		v->ants[a].pos_m[0] = pos[a][0];
		v->ants[a].pos_m[1] = pos[a][1];
		v->ants[a].diam_m = 4.65;
	}
	v->nants_data = NANT;
	for (int i = 0; i < NANT; i++)
		for (int j = i; j < NANT; j++, b++) {
			v->ant1[b] = i + 3;
			v->ant2[b] = j + 3;
		}
	for (int c = 0; c < NCHAN; c++)
		v->freq_hz[c] = 1.40e9 + c * 244140.625;
	v->chan_width_hz = 244140.625;
	for (int t = 0; t < NT; t++)
		v->time_jd[t] = 2461100.5 + t * 12.885 / 86400.0;
	v->int_time_s = 12.885;
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	snprintf(v->name, sizeof v->name, "synthetic");

	for (int t = 0; t < NT; t++)
		for (b = 0; b < nbl; b++) {
			int i = v->ant1[b] - 3, j = v->ant2[b] - 3;
			double u = pos[j][0] - pos[i][0], w = pos[j][1] - pos[i][1];
			for (int c = 0; c < NCHAN; c++) {
				double k = 2.0 * M_PI * v->freq_hz[c] / VIS_C_M_S;
				double complex model = 0;
				for (int s = 0; s < 3; s++) {
					double l = src_l[s] + 2e-4 * (t - NT / 2);
					model += src_s[s] * cexp(I * k * (u * l + w * src_m[s]));
				}
				for (int p = 0; p < 2; p++) {
					size_t x = vis_idx(v, t, b, c, p);
					if (i == j)
						v->vis[x] = 100.0 + grand();
					else
						v->vis[x] = model + grand() + I * grand();
					v->weight[x] = 24.0f;
				}
			}
		}
	return v;
}

static double rfi_frac(const vis_set *v)
{
	size_t n = 0, f = 0;
	for (int t = 0; t < v->ntimes; t++)
		for (int b = 0; b < v->nbls; b++) {
			if (v->ant1[b] == v->ant2[b])
				continue;
			for (int c = 0; c < v->nchan; c++)
				for (int p = 0; p < v->npols; p++) {
					n++;
					f += v->flags[vis_idx(v, t, b, c, p)] != 0;
				}
		}
	return (double)f / n;
}

static void test_clean_noise(void)
{
	vis_set *v = make_set();
	flag_stats st;
	char err[ERR_LEN] = "";

	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_OK(flag_run(v, NULL, &st, err, sizeof err), err);
	printf("# clean noise: flagged %.3f %% of cross samples (rfi %.3f %%), %d dead\n",
	       100 * st.total_frac, 100 * st.reason_frac[FLAG_R_RFI], st.ndead);
	CHECK(st.total_frac < 0.02, "clean data lost %.3f %%", 100 * st.total_frac);
	CHECK_NEAR(st.total_frac, rfi_frac(v), 1e-12);
	CHECK(st.ndead == 0);
	/* Autos carry the AUTO bit and are not in the statistics. */
	CHECK(v->flags[vis_idx(v, 0, 0, 0, 0)] & VIS_FLAG_AUTO);
	CHECK(st.ncross == (size_t)NT * (NANT * (NANT - 1) / 2) * NCHAN * 2);
	flag_stats_release(&st);
	vis_free(v);
}

static void test_injected_rfi(void)
{
	vis_set *v = make_set();
	uint8_t *inj;
	size_t ninj = 0, ncaught = 0, nclean = 0, nclean_flag = 0, nlocal = 0, nlocal_caught = 0;
	char err[ERR_LEN] = "";
	flag_stats st;

	CHECK(v != NULL);
	if (!v)
		return;
	inj = calloc(vis_nsamples(v), 1);
	CHECK(inj != NULL);
	if (!inj) {
		vis_free(v);
		return;
	}
	for (int t = 0; t < NT; t++)
		for (int b = 0; b < v->nbls; b++) {
			if (v->ant1[b] == v->ant2[b])
				continue;
			for (int c = 0; c < NCHAN; c++) {
				double amp = 0;
				if (c == 20 || c == 61)
					amp = 3.0;  /* narrow-band, steady through the window */
				if (c >= 40 && c <= 41 && t >= 5 && t <= 12)
					amp = 4.0;  /* narrow-band, intermittent */
				if (t == 15 || (t == 16 && c < NCHAN / 2))
					amp = 3.0;  /* broadband burst */
				if (c >= 74 && c <= 76 && t >= 3 && t <= 20 &&
				    (v->ant1[b] == 5 || v->ant2[b] == 5))
					amp = 4.0;  /* one antenna's local line: 15 of 120 baselines */
				if (amp == 0)
					continue;
				for (int p = 0; p < 2; p++) {
					size_t x = vis_idx(v, t, b, c, p);
					double ph = 2 * M_PI * urand();
					v->vis[x] += amp * cexp(I * ph);
					inj[x] = 1;
				}
			}
		}
	CHECK_OK(flag_run(v, NULL, &st, err, sizeof err), err);
	for (size_t x = 0; x < vis_nsamples(v); x++) {
		size_t row = x / (NCHAN * 2);
		int c = (int)(x / 2 % NCHAN), b = (int)(row % v->nbls);
		if (v->flags[x] & VIS_FLAG_AUTO)
			continue;
		if (inj[x]) {
			ninj++;
			ncaught += (v->flags[x] & VIS_FLAG_RFI) != 0;
			if (c >= 74 && c <= 76 && (v->ant1[b] == 5 || v->ant2[b] == 5)) {
				nlocal++;
				nlocal_caught += (v->flags[x] & VIS_FLAG_RFI) != 0;
			}
		} else {
			nclean++;
			nclean_flag += v->flags[x] != 0;
		}
	}
	printf("# injected RFI: %.2f %% of %zu injected samples caught; %.2f %% of clean samples flagged\n",
	       100.0 * ncaught / ninj, ninj, 100.0 * nclean_flag / nclean);
	printf("# injected RFI on one antenna's baselines only (not combined across baselines): "
	       "%.2f %% caught\n", 100.0 * nlocal_caught / nlocal);
	CHECK((double)ncaught / ninj >= 0.95);
	/* A harder case than the acceptance's: a 4σ line with a random phase per
	 * sample sometimes cancels the sky's amplitude; no help from other
	 * baselines.  ~91 % measured. */
	CHECK((double)nlocal_caught / nlocal >= 0.85);
	CHECK((double)nclean_flag / nclean < 0.05);
	/* Per-channel statistics see the steady lines. */
	CHECK(st.chan_frac[20] > 0.95 && st.chan_frac[61] > 0.95);
	flag_stats_release(&st);
	free(inj);
	vis_free(v);
}

static void test_dead_antennas(void)
{
	vis_set *v = make_set();
	char err[ERR_LEN] = "";
	flag_stats st;
	int ia_zero = 5, ia_weak = 9;
	size_t bad = 0, tot = 0;

	CHECK(v != NULL);
	if (!v)
		return;
	/* Antenna index 5: all zero.  Index 9: alive but 100× too weak (its
	 * crosses hold only a little noise and its auto power is ~1 %). */
	for (int b = 0; b < v->nbls; b++) {
		int i = v->ant1[b] - 3, j = v->ant2[b] - 3;
		for (int t = 0; t < NT; t++)
			for (int c = 0; c < NCHAN; c++)
				for (int p = 0; p < 2; p++) {
					size_t x = vis_idx(v, t, b, c, p);
					if (i == ia_zero || j == ia_zero)
						v->vis[x] = 0;
					else if (i == ia_weak || j == ia_weak)
						v->vis[x] *= 0.01f;
				}
	}
	CHECK_OK(flag_run(v, NULL, &st, err, sizeof err), err);
	CHECK(st.ndead == 2, "ndead %d", st.ndead);
	for (int k = 0; k < st.ndead; k++)
		CHECK(st.dead_ants[k] == ia_zero + 3 || st.dead_ants[k] == ia_weak + 3);
	for (int b = 0; b < v->nbls; b++) {
		int i = v->ant1[b] - 3, j = v->ant2[b] - 3;
		if (i != ia_zero && j != ia_zero && i != ia_weak && j != ia_weak)
			continue;
		for (int t = 0; t < NT; t++)
			for (int c = 0; c < NCHAN; c++)
				for (int p = 0; p < 2; p++) {
					tot++;
					bad += v->flags[vis_idx(v, t, b, c, p)] != 0;
				}
	}
	CHECK(bad == tot, "%zu of %zu samples of dead antennas flagged", bad, tot);
	CHECK_NEAR(st.ant_frac[ia_zero], 1.0, 1e-12);
	CHECK_NEAR(st.ant_frac[ia_weak], 1.0, 1e-12);
	CHECK(st.ant_frac[0] < 0.2);
	printf("# dead antennas %d and %d flagged whole; antenna %d %.2f %% flagged\n",
	       ia_zero + 3, ia_weak + 3, 3, 100 * st.ant_frac[0]);
	flag_stats_release(&st);
	vis_free(v);
}

static void test_configured_and_nonfinite(void)
{
	vis_set *v = make_set();
	flag_params p;
	char err[ERR_LEN] = "";
	flag_stats st;
	size_t x;

	CHECK(v != NULL);
	if (!v)
		return;
	flag_params_init(&p);
	p.rfi = 0;
	/* The lists as [flag] bad_antennas = 4, 10-11, bad_channels = 0,95 and
	 * bad_freq_mhz = 1402.33, 1410.0-1410.5 give them (the list syntax is
	 * core/config's, tests/core/test_config.c). */
	p.nbad_ants = 3;
	p.bad_ants[0] = 4;
	p.bad_ants[1] = 10;
	p.bad_ants[2] = 11;
	p.nbad_chans = 2;
	p.bad_chans[0] = 0;
	p.bad_chans[1] = 95;
	/* channel 10 is centred at 1402.44140625 MHz; a line just inside its edge hits it */
	p.nbad_freq = 2;
	p.bad_freq_mhz[0][0] = p.bad_freq_mhz[0][1] = 1402.33;
	p.bad_freq_mhz[1][0] = 1410.0;
	p.bad_freq_mhz[1][1] = 1410.5;

	x = vis_idx(v, 3, 20, 30, 1);
	v->vis[x] = NAN;
	v->vis[vis_idx(v, 4, 21, 31, 0)] = 0;
	CHECK_OK(flag_run(v, &p, &st, err, sizeof err), err);
	CHECK(v->flags[x] & VIS_FLAG_NONFINITE);
	CHECK(!(v->flags[vis_idx(v, 3, 20, 30, 0)] & VIS_FLAG_NONFINITE));
	CHECK(v->flags[vis_idx(v, 4, 21, 31, 0)] & VIS_FLAG_NONFINITE);
	for (int c = 0; c < NCHAN; c++) {
		double lo = (v->freq_hz[c] - 122070.3125) / 1e6, hi = (v->freq_hz[c] + 122070.3125) / 1e6;
		int want = c == 0 || c == 95 || (lo <= 1402.33 && hi >= 1402.33) ||
			   (lo <= 1410.5 && hi >= 1410.0);
		/* baseline 17 joins antennas 4 and 5 (index 1, 2): configured antenna 4 */
		CHECK(!!(v->flags[vis_idx(v, 0, 2, c, 0)] & VIS_FLAG_CONFIG) == want, "chan %d", c);
		CHECK(v->flags[vis_idx(v, 0, 17, c, 0)] & VIS_FLAG_CONFIG);
	}
	CHECK(v->flags[vis_idx(v, 0, 2, 10, 0)] & VIS_FLAG_CONFIG);
	CHECK(st.reason_frac[FLAG_R_CONFIG] > 0 && st.reason_frac[FLAG_R_RFI] == 0);
	printf("# configured: %.2f %% config, %.4f %% nonfinite\n", 100 * st.reason_frac[FLAG_R_CONFIG],
	       100 * st.reason_frac[FLAG_R_NONFINITE]);
	flag_stats_release(&st);
	vis_free(v);
}

/* Rows with ant_1 > ant_2 (the correlator's order, docs/simulator.md): the
 * same simulated group (RFI, a dead DSA-116 = antenna 115, whose baselines
 * the order reverses) in ascending and correlator order must get the same
 * flags, sample for sample, the same per-antenna and per-channel fractions,
 * and the same dead antenna. */
static void test_correlator_order(void)
{
	simorder s;
	simorder_opts o;
	flag_stats st[2];
	int *twin = NULL;
	uint8_t *rev = NULL;
	char err[ERR_LEN] = "";

	memset(st, 0, sizeof st);
	simorder_opts_init(&o);
	o.rfi = 1;
	o.dead = 115;
	if (simorder_make(&s, "flag", &o) == 0 && simorder_twins(s.v[0], s.v[1], &twin, &rev) == 0) {
		const vis_set *A = s.v[0], *B = s.v[1];
		size_t per = (size_t)B->nchan * B->npols;
		long diff = 0, nflag = 0, nrev_flag = 0, nrev_tot = 0;
		double dant = 0, dchan = 0, a115 = -1;

		for (int k = 0; k < 2; k++)
			CHECK_OK(flag_run(s.v[k], NULL, &st[k], err, sizeof err), err);
		for (int b = 0; b < B->nbls; b++)
			for (int t = 0; t < B->ntimes; t++)
				for (size_t i = 0; i < per; i++) {
					uint8_t fb = B->flags[((size_t)t * B->nbls + b) * per + i];
					uint8_t fa = A->flags[((size_t)t * A->nbls + twin[b]) * per + i];
					diff += fa != fb;
					nflag += fb != 0;
					if (rev[b] && B->ant1[b] != 115 && B->ant2[b] != 115) {
						nrev_flag += fb != 0;
						nrev_tot++;
					}
				}
		for (int a = 0; a < A->nants; a++) {
			if (st[0].ant_frac[a] >= 0 || st[1].ant_frac[a] >= 0)
				dant = fmax(dant, fabs(st[0].ant_frac[a] - st[1].ant_frac[a]));
			if (A->ants[a].number == 115)
				a115 = st[1].ant_frac[a];
		}
		for (int c = 0; c < A->nchan; c++)
			dchan = fmax(dchan, fabs(st[0].chan_frac[c] - st[1].chan_frac[c]));
		printf("# correlator order: %d reversed baselines; flags differ at %ld of %ld flagged samples; "
		       "total %.3f %% vs %.3f %%, max |d ant_frac| %.2g, max |d chan_frac| %.2g; "
		       "antenna 115 dead: %d (%.0f %% flagged); reversed rows without it %.2f %% flagged\n",
		       simorder_reversed(B), diff, nflag, 100 * st[0].total_frac, 100 * st[1].total_frac,
		       dant, dchan, st[1].ndead == 1 && st[1].dead_ants[0] == 115, 100 * a115,
		       nrev_tot ? 100.0 * nrev_flag / nrev_tot : 0.0);
		CHECK(simorder_reversed(B) == 21);
		CHECK(diff == 0, "%ld samples flagged differently", diff);
		CHECK(dant == 0 && dchan == 0 && st[0].total_frac == st[1].total_frac);
		CHECK(st[0].ndead == 1 && st[1].ndead == 1 && st[1].dead_ants[0] == 115);
		CHECK(a115 == 1.0, "antenna 115: %g flagged", a115);
		CHECK(st[1].reason_frac[FLAG_R_RFI] > 0, "no RFI flagged");
	}
	for (int k = 0; k < 2; k++)
		flag_stats_release(&st[k]);
	free(twin);
	free(rev);
	simorder_free(&s);
}

int main(void)
{
	RUN(test_clean_noise);
	RUN(test_injected_rfi);
	RUN(test_dead_antennas);
	RUN(test_configured_and_nonfinite);
	RUN(test_correlator_order);
	return TEST_DONE();
}
