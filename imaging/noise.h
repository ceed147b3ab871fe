/*
 * imaging/noise.h — the visibility noise measured from the data, and the
 * radiometer expectation of an image made from them.
 *
 * The thermal noise of an image is fixed by the noise of the visibilities and
 * the weights they were gridded with (imaging/weight.h):
 *
 *   σ_img = σ_unit · sqrt(Σ w_img² / w_data) / Σ w_img                     (1)
 *
 * where σ_unit is the standard deviation of the real (equally, imaginary)
 * part of one Stokes I sample of data weight 1: a sample of data weight w has
 * var(Re I) = var(Im I) = σ_unit² / w.  The dirty image is Σ w_img Re(I e^{iφ})
 * / Σ w_img, so only one component's variance enters, and (1) holds for any
 * weighting, taper or uv cut, as long as the data weights are proportional to
 * the inverse variance (they are: nsamples, summed over averaged channels).
 *
 * noise_unit_sigma() estimates σ_unit from the visibilities themselves, not
 * from an SEFD, so a bad system temperature, a drop-out or a wrong nsamples
 * shows up as a ratio of the measured image rms to (1) different from 1:
 *
 *   NOISE_POLDIFF  (preferred) the difference product D = (XX − YY)/2 (Stokes
 *     Q for linear feeds; (RR − LL)/2 = V for circular ones).  It has the
 *     noise of I exactly — var(Re D) = var(Re I) = (σ_XX² + σ_YY²)/4 — and no
 *     sky signal for an unpolarised, calibrated sky: a 1 Jy source polarised
 *     by a few per cent, or a 1 % gain difference left between the feeds,
 *     puts ~0.01–0.03 Jy into D against σ_vis ≈ 0.9 Jy per sample (1.95 MHz,
 *     12.9 s), and the MAD ignores the few samples it affects more.
 *     Uncalibrated data are another matter: the feeds' different gains leave
 *     the sky in XX − YY (the raw reference calibrator group, 8.8 Jy in the
 *     beam, reads 6.2× its true noise), so the image stage estimates after
 *     calibration.  With the Stokes I weight of the pair,
 *     w = 4 / (1/w_XX + 1/w_YY) (weight.h), D·sqrt(w) has variance σ_unit² in
 *     each component.  Samples where only one feed is good give no D and are
 *     skipped.
 *   NOISE_TIMEDIFF (fallback when the set has only one feed product, or pI)
 *     differences of the same baseline and channel of the Stokes I samples in
 *     adjacent integrations: var(Re(I₂ − I₁)) = σ_unit² (1/w₁ + 1/w₂).  The
 *     sky does change between integrations (fringe rotation away from the
 *     phase centre), so this one is an upper bound; the robust estimator
 *     discards most of it for a sky dominated by the noise.
 *   NOISE_NONE     neither gives NOISE_MIN_VALUES values, or the difference
 *     product is exactly 0 (XX = YY: noiseless simulated data, whose image
 *     has no thermal noise to compare with): σ_unit = NAN.
 *
 * Robust: σ_unit = 1.4826 × MAD (about the median) of the real and imaginary
 * parts of the scaled values together (Rousseeuw & Croux 1993; core/stats.h),
 * so RFI that escaped the flagger and the odd bright source leave it alone.
 * Large sets are subsampled to at most NOISE_MAX_VALUES values, evenly over
 * (time, baseline, channel) — the estimate's statistical error is then
 * 1.1/sqrt(2·10⁶) ≈ 0.1 %.
 *
 * Pure: no files, no database, no logging.
 */
#ifndef CONTIMG_NOISE_H
#define CONTIMG_NOISE_H

#include <stddef.h>

#include "core/pool.h"
#include "core/vis.h"
#include "imaging/weight.h"

#define NOISE_MAX_VALUES (1u << 21) /* real + imaginary parts kept for the MAD */
#define NOISE_MIN_VALUES 64         /* fewer: no estimate */

enum noise_method { NOISE_NONE = 0, NOISE_POLDIFF = 1, NOISE_TIMEDIFF = 2 };

typedef struct noise_estimate {
	double sigma_unit;  /* σ of Re (or Im) of a Stokes I sample at data weight 1,
			       in the visibilities' unit (Jy when calibrated); NAN with
			       NOISE_NONE */
	int method;         /* enum noise_method */
	size_t nvalues;     /* real and imaginary parts the MAD was taken over */
} noise_estimate;

/* Estimate σ_unit of v (the set the samples s were made from with
 * weight_stokes_new; s is used for the NOISE_TIMEDIFF fallback only).  A
 * scratch buffer of at most NOISE_MAX_VALUES floats comes from pool and goes
 * back (NULL: malloc).  0 with *ret filled (method NOISE_NONE and NAN when the
 * data allow no estimate: not an error); -ENOMEM. */
int noise_unit_sigma(const vis_set *v, const weight_stokes *s, mem_pool *pool,
		     noise_estimate *ret);

/* Equation (1): the radiometer expectation of an image of weight sums sum_w,
 * sum_w2_over_d (weight_apply).  NAN when sigma_unit is not finite or sum_w
 * is not > 0. */
double noise_image_expect(double sigma_unit, double sum_w, double sum_w2_over_d);

/* "poldiff", "timediff" or "none". */
const char *noise_method_name(int method);

#endif
