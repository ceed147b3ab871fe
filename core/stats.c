/*
 * core/stats.c — order statistics, medians, MAD (see stats.h).
 */
#include "core/stats.h"

#include <math.h>
#include <stdlib.h>

float stats_select_f(float *x, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	/* Hoare partition about the middle element; the invariant is that
	 * x[0..lo) <= x[lo..hi] <= x(hi..n), so when the range closes on k,
	 * x[k] is the k-th smallest and x is partitioned about it. */
	while (lo < hi) {
		float pivot = x[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;
		while (i <= j) {
			while (x[i] < pivot)
				i++;
			while (x[j] > pivot)
				j--;
			if (i <= j) {
				float tmp = x[i];
				x[i] = x[j];
				x[j] = tmp;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break; /* x(j..i) all equal the pivot, k among them */
	}
	return x[k];
}

float stats_median_hi_f(float *x, size_t n)
{
	return stats_select_f(x, n, n / 2);
}

float stats_median_f(float *x, size_t n)
{
	float m = stats_select_f(x, n, n / 2);

	if (n % 2 == 0) {
		/* The lower middle is the largest of x[0..n/2) after the select. */
		float lo = x[0];
		for (size_t i = 1; i < n / 2; i++)
			if (x[i] > lo)
				lo = x[i];
		m = 0.5f * (m + lo);
	}
	return m;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double stats_median_d(double *x, size_t n)
{
	if (!n)
		return NAN;
	qsort(x, n, sizeof *x, cmp_double);
	return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

float stats_mad_hi_f(float *x, size_t n, float *ret_med)
{
	float med = stats_median_hi_f(x, n);

	for (size_t i = 0; i < n; i++)
		x[i] = fabsf(x[i] - med);
	if (ret_med)
		*ret_med = med;
	return stats_median_hi_f(x, n);
}
