/* tests/calib/test_apply.c — applying K/B/G tables: values, matching, flags. */
#include "tests/test.h"

#include <complex.h>
#include <errno.h>
#include <stdint.h>

#include "calib/apply.h"
#include "core/err.h"
#include "core/gaintab.h"
#include "core/vis.h"

#define NA 5
#define NC 6
#define NT 4

static vis_set *make_set(void)
{
	int nbl = NA * (NA + 1) / 2, b = 0;
	vis_set *v = vis_new(NT, nbl, NC, 2, NA);

	if (!v)
		return NULL;
	for (int a = 0; a < NA; a++)
		v->ants[a].number = 20 + a;
	for (int i = 0; i < NA; i++)
		for (int j = i; j < NA; j++, b++) {
			v->ant1[b] = 20 + i;
			v->ant2[b] = 20 + j;
		}
	for (int c = 0; c < NC; c++)
		v->freq_hz[c] = 1.4e9 + c * 2e6;
	v->chan_width_hz = 2e6;
	for (int t = 0; t < NT; t++)
		v->time_jd[t] = 2461000.5 + t * 60.0 / 86400;
	v->pols[0] = VIS_POL_XX;
	v->pols[1] = VIS_POL_YY;
	for (size_t i = 0; i < vis_nsamples(v); i++)
		v->vis[i] = 3.0f - 1.0f * I;
	snprintf(v->name, sizeof v->name, "apply-test");
	return v;
}

static float complex bgain(int a, int c, int h)
{
	return (1.0f + 0.1f * a + 0.01f * c) * cexpf(I * (0.3f * a - 0.05f * c + 0.2f * h));
}

static float complex ggain(int t, int a, int h)
{
	return (0.8f + 0.05f * a) * cexpf(I * (0.1f * t * a + 0.4f * h));
}

static void test_apply_b_then_g(void)
{
	vis_set *v = make_set();
	gaintab *b = gaintab_new(1, NA, NC, 2), *g = gaintab_new(NT, NA, 1, 2);
	apply_stats st;
	char err[ERR_LEN] = "";
	double worst = 0;

	CHECK(v && b && g);
	if (!v || !b || !g)
		goto out;
	snprintf(b->type, sizeof b->type, "B");
	snprintf(g->type, sizeof g->type, "G");
	/* Antennas listed in a different order than in the set. */
	for (int a = 0; a < NA; a++) {
		b->antenna_numbers[a] = 20 + (NA - 1 - a);
		g->antenna_numbers[a] = 20 + a;
	}
	for (int c = 0; c < NC; c++)
		b->freq_hz[c] = v->freq_hz[c];
	g->freq_hz[0] = 1.405e9;
	for (int t = 0; t < NT; t++)
		g->time_mjd[t] = v->time_jd[t] - 2400000.5 + 1e-6; /* nearest = same index */
	for (int a = 0; a < NA; a++)
		for (int h = 0; h < 2; h++) {
			for (int c = 0; c < NC; c++)
				b->gain[gaintab_idx(b, 0, NA - 1 - a, c, h)] = bgain(a, c, h);
			for (int t = 0; t < NT; t++)
				g->gain[gaintab_idx(g, t, a, 0, h)] = ggain(t, a, h);
		}
	/* Corrupt the data as V_obs = g1 V conj(g2) with the product B·G. */
	for (int t = 0; t < NT; t++)
		for (int bl = 0; bl < v->nbls; bl++)
			for (int c = 0; c < NC; c++)
				for (int h = 0; h < 2; h++) {
					int i = v->ant1[bl] - 20, j = v->ant2[bl] - 20;
					float complex gi = bgain(i, c, h) * ggain(t, i, h);
					float complex gj = bgain(j, c, h) * ggain(t, j, h);
					v->vis[vis_idx(v, t, bl, c, h)] *= gi * conjf(gj);
				}
	/* One flagged B solution: antenna 22, channel 3, pol Y. */
	b->flag[gaintab_idx(b, 0, NA - 1 - 2, 3, 1)] = 1;

	CHECK_OK(apply_solutions(v, NULL, b, g, 2, &st, err, sizeof err), err);
	CHECK(st.ntables == 2);
	for (int t = 0; t < NT; t++)
		for (int bl = 0; bl < v->nbls; bl++)
			for (int c = 0; c < NC; c++)
				for (int h = 0; h < 2; h++) {
					size_t x = vis_idx(v, t, bl, c, h);
					int hit = (v->ant1[bl] == 22 || v->ant2[bl] == 22) && c == 3 && h == 1;
					CHECK(!!(v->flags[x] & VIS_FLAG_CAL) == hit);
					if (!hit)
						worst = fmax(worst, cabsf(v->vis[x] - (3.0f - 1.0f * I)));
				}
	CHECK(worst < 1e-5, "worst %.3g", worst);
	/* 5 flagged-per-time baselines touching antenna 22 (4 cross + 1 auto):
	 * cross ones are 4 × NT samples out of 10 × NT × NC × 2. */
	CHECK_NEAR(st.cal_flagged_frac, 4.0 / (10 * NC * 2), 1e-12);
	printf("# B then G restored the sky to %.2g; %.3f %% of cross samples flagged by a flagged solution\n",
	       worst, 100 * st.cal_flagged_frac);
out:
	gaintab_free(b);
	gaintab_free(g);
	vis_free(v);
}

static void test_missing_and_types(void)
{
	vis_set *v = make_set();
	gaintab *g = gaintab_new(1, NA - 1, 1, 2);
	char err[ERR_LEN] = "";

	CHECK(v && g);
	if (!v || !g)
		goto out;
	snprintf(g->type, sizeof g->type, "G");
	for (int a = 0; a < NA - 1; a++)
		g->antenna_numbers[a] = 20 + a; /* antenna 24 missing */
	CHECK(apply_solutions(v, NULL, g, NULL, 0, NULL, err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "B table") != NULL, "%s", err);
	CHECK_OK(apply_solutions(v, NULL, NULL, g, 0, NULL, err, sizeof err), err);
	for (int bl = 0; bl < v->nbls; bl++) {
		int miss = v->ant1[bl] == 24 || v->ant2[bl] == 24;
		CHECK(!!(v->flags[vis_idx(v, 2, bl, 4, 0)] & VIS_FLAG_CAL) == miss);
		if (!miss)
			CHECK(cabsf(v->vis[vis_idx(v, 2, bl, 4, 0)] - (3.0f - 1.0f * I)) < 1e-6);
	}
out:
	gaintab_free(g);
	vis_free(v);
}

int main(void)
{
	RUN(test_apply_b_then_g);
	RUN(test_missing_and_types);
	return TEST_DONE();
}
