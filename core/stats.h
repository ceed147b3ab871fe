/*
 * core/stats.h — robust statistics on plain arrays: order statistics
 * (quickselect), medians and the median absolute deviation.
 *
 * Every function here works IN PLACE on the caller's array: it reorders (or
 * sorts) x, and the caller owns x before and after.  Nothing allocates,
 * nothing fails.  None of them handles NaN: callers keep only finite values
 * (a NaN compares false both ways and would make the order statistics
 * meaningless), which every caller does anyway because flagged data are NaN.
 *
 * Two definitions of "the median" of an even count are in use and they give
 * different numbers, so both exist under distinct names:
 *   - the HIGH median, x_(n/2) of the sorted values (0-based; for odd n the
 *     true median): one element of x, found by a single selection, what the
 *     RFI flagger and the CLEAN noise estimate use;
 *   - the median proper, the mean of the two middle values for even n, what
 *     photometry (rms map, normalisation), the flag stage's dead-antenna test
 *     and the array model use.
 *
 * For Gaussian noise σ ≈ STATS_MAD_TO_SIGMA × MAD (1 / Φ⁻¹(3/4); Rousseeuw &
 * Croux 1993, JASA 88, 1273).  The MAD functions return the UNSCALED MAD;
 * callers multiply by the constant they have always used (the flagger and
 * CLEAN use the 4-digit 1.4826, photometry the full STATS_MAD_TO_SIGMA), so
 * their numbers stay exactly as they were.
 */
#ifndef CONTIMG_STATS_H
#define CONTIMG_STATS_H

#include <stddef.h>

/* 1 / Φ⁻¹(3/4): σ of a Gaussian from its median absolute deviation. */
#define STATS_MAD_TO_SIGMA 1.482602218505602

/* The k-th smallest (0-based, k < n, n > 0) of x[0..n).  Hoare's selection
 * (Hoare 1961, CACM 4, 321, "FIND"): on return x[k] holds that value, every
 * x[i] with i < k is <= it and every x[i] with i > k is >= it; the order
 * within those two parts is unspecified.  O(n) expected. */
float stats_select_f(float *x, size_t n, size_t k);

/* The high median of x[0..n): stats_select_f(x, n, n / 2) (see above; for odd
 * n the median).  n must be > 0.  Reorders x. */
float stats_median_hi_f(float *x, size_t n);

/* The median of x[0..n): the middle value for odd n, the mean of the two
 * middle values for even n, computed in float (0.5f * (lo + hi)).  n must
 * be > 0.  Reorders x (partitioned about index n / 2). */
float stats_median_f(float *x, size_t n);

/* The median of x[0..n) in double: the middle value for odd n, the mean of
 * the two middle values for even n.  SORTS x ascending (callers may rely on
 * that).  NAN when n == 0. */
double stats_median_d(double *x, size_t n);

/* The median absolute deviation about the high median, both high medians:
 * med = stats_median_hi_f(x), then x[i] is REPLACED by |x[i] - med| and the
 * high median of those is returned (unscaled; see STATS_MAD_TO_SIGMA).  The
 * centre goes to *ret_med when ret_med is non-NULL.  n must be > 0. */
float stats_mad_hi_f(float *x, size_t n, float *ret_med);

#endif
