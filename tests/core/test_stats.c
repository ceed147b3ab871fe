/*
 * tests/core/test_stats.c — order statistics, medians and MAD against plain
 * sort-based references (qsort, then index), over odd and even counts, heavy
 * duplicates, n = 1 and 2, and the Gaussian scaling constant against erf.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "tests/test.h"

#define NMAX 257

static int cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Deterministic pseudo-random values; kind 0: few distinct values (many
 * duplicates), 1: continuous, 2: sorted descending, 3: all equal. */
static void fill(float *x, size_t n, int kind, uint32_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1664525u + 1013904223u;
		float u = (float)(*seed >> 8) / 16777216.0f;
		switch (kind) {
		case 0: x[i] = (float)(int)(u * 4) - 1.5f; break;
		case 1: x[i] = 100 * u - 37; break;
		case 2: x[i] = (float)(n - i) * 0.25f; break;
		default: x[i] = 3.5f; break;
		}
	}
}

static void test_select_all_k(void)
{
	float x[NMAX], ref[NMAX], w[NMAX];
	uint32_t seed = 1;
	int bad = 0, badpart = 0;

	for (int kind = 0; kind < 4; kind++)
		for (size_t n = 1; n <= 40; n++) {
			fill(x, n, kind, &seed);
			memcpy(ref, x, n * sizeof *x);
			qsort(ref, n, sizeof *ref, cmp_f);
			for (size_t k = 0; k < n; k++) {
				memcpy(w, x, n * sizeof *x);
				float v = stats_select_f(w, n, k);
				if (v != ref[k] || w[k] != ref[k])
					bad++;
				/* partitioned about k; still a permutation of x */
				for (size_t i = 0; i < n; i++)
					if ((i < k && w[i] > v) || (i > k && w[i] < v))
						badpart++;
				qsort(w, n, sizeof *w, cmp_f);
				if (memcmp(w, ref, n * sizeof *w))
					badpart++;
			}
		}
	CHECK(bad == 0, "%d wrong k-th values", bad);
	CHECK(badpart == 0, "%d partition/permutation violations", badpart);
}

static void test_medians_float(void)
{
	float x[NMAX], ref[NMAX], w[NMAX];
	uint32_t seed = 7;
	int bad_hi = 0, bad_mid = 0;

	for (int kind = 0; kind < 4; kind++)
		for (size_t n = 1; n <= NMAX; n += (n < 20 ? 1 : 17)) {
			fill(x, n, kind, &seed);
			memcpy(ref, x, n * sizeof *x);
			qsort(ref, n, sizeof *ref, cmp_f);
			memcpy(w, x, n * sizeof *x);
			if (stats_median_hi_f(w, n) != ref[n / 2])
				bad_hi++;
			float want = n % 2 ? ref[n / 2] : 0.5f * (ref[n / 2 - 1] + ref[n / 2]);
			memcpy(w, x, n * sizeof *x);
			if (stats_median_f(w, n) != want)
				bad_mid++;
		}
	CHECK(bad_hi == 0, "%d wrong high medians", bad_hi);
	CHECK(bad_mid == 0, "%d wrong medians", bad_mid);

	/* small cases by hand: the two definitions differ for even n */
	float a[4] = {4, 1, 3, 2};
	CHECK(stats_median_hi_f(a, 4) == 3);
	float b[4] = {4, 1, 3, 2};
	CHECK(stats_median_f(b, 4) == 2.5f);
	float c[1] = {-2};
	CHECK(stats_median_f(c, 1) == -2 && stats_median_hi_f(c, 1) == -2);
	float d[2] = {5, 1};
	CHECK(stats_median_f(d, 2) == 3);
	float e[5] = {2, 2, 9, 2, -1};
	CHECK(stats_median_f(e, 5) == 2);
}

static void test_median_double(void)
{
	double x[NMAX], ref[NMAX];
	float f[NMAX];
	uint32_t seed = 3;
	int bad = 0, unsorted = 0;

	for (int kind = 0; kind < 4; kind++)
		for (size_t n = 1; n <= 60; n++) {
			fill(f, n, kind, &seed);
			for (size_t i = 0; i < n; i++)
				x[i] = f[i] + 1e-3 * (double)(i % 3);
			memcpy(ref, x, n * sizeof *x);
			qsort(ref, n, sizeof *ref, cmp_d);
			double want = n % 2 ? ref[n / 2] : 0.5 * (ref[n / 2 - 1] + ref[n / 2]);
			if (stats_median_d(x, n) != want)
				bad++;
			if (memcmp(x, ref, n * sizeof *x))
				unsorted++; /* documented: sorts x */
		}
	CHECK(bad == 0, "%d wrong medians", bad);
	CHECK(unsorted == 0, "%d arrays not left sorted", unsorted);
	CHECK(isnan(stats_median_d(x, 0)));
	double y[6] = {10, -1, 7, 3, 3, 100};
	CHECK(stats_median_d(y, 6) == 5);
}

static void test_mad(void)
{
	float x[NMAX], ref[NMAX], dev[NMAX], w[NMAX];
	uint32_t seed = 11;
	int bad = 0;

	for (int kind = 0; kind < 4; kind++)
		for (size_t n = 1; n <= 80; n++) {
			fill(x, n, kind, &seed);
			memcpy(ref, x, n * sizeof *x);
			qsort(ref, n, sizeof *ref, cmp_f);
			float med = ref[n / 2];
			for (size_t i = 0; i < n; i++)
				dev[i] = fabsf(x[i] - med);
			qsort(dev, n, sizeof *dev, cmp_f);
			float got_med = NAN;
			memcpy(w, x, n * sizeof *x);
			float mad = stats_mad_hi_f(w, n, &got_med);
			if (mad != dev[n / 2] || got_med != med)
				bad++;
			/* x now holds the deviations (as a permutation) */
			qsort(w, n, sizeof *w, cmp_f);
			if (memcmp(w, dev, n * sizeof *w))
				bad++;
		}
	CHECK(bad == 0, "%d wrong MADs", bad);
	float a[7] = {1, 1, 2, 2, 4, 6, 9}; /* median 2, |dev| 1 1 0 0 2 4 7 → MAD 1 */
	CHECK(stats_mad_hi_f(a, 7, NULL) == 1);
}

static void test_mad_gaussian(void)
{
	/* The constant is 1/Φ⁻¹(3/4): P(|z| < 1/c) = erf(1/(c√2)) = 1/2. */
	CHECK_NEAR(erf(1 / (STATS_MAD_TO_SIGMA * sqrt(2.0))), 0.5, 1e-14);

	/* And on a Gaussian sample (Box–Muller, σ = 2.5) it recovers σ. */
	enum { N = 20001 };
	static float g[N];
	uint32_t seed = 5;
	for (size_t i = 0; i < N; i += 2) {
		double u1, u2;
		seed = seed * 1664525u + 1013904223u;
		u1 = ((seed >> 8) + 1.0) / 16777217.0;
		seed = seed * 1664525u + 1013904223u;
		u2 = (seed >> 8) / 16777216.0;
		double r = 2.5 * sqrt(-2 * log(u1));
		g[i] = (float)(r * cos(2 * M_PI * u2) + 10);
		if (i + 1 < N)
			g[i + 1] = (float)(r * sin(2 * M_PI * u2) + 10);
	}
	float med;
	double sigma = STATS_MAD_TO_SIGMA * stats_mad_hi_f(g, N, &med);
	CHECK_NEAR(med, 10, 0.05);
	CHECK_NEAR(sigma, 2.5, 0.06); /* σ(MAD σ) ≈ 1.65 σ/√N ≈ 0.03 */
}

int main(void)
{
	RUN(test_select_all_k);
	RUN(test_medians_float);
	RUN(test_median_double);
	RUN(test_mad);
	RUN(test_mad_gaussian);
	return TEST_DONE();
}
