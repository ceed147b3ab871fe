/*
 * tests/photometry/test_ese_band.c — the joint sub-band lens fit
 * (ese_score_subband): a simulated plasma-lens event whose strength scales
 * as λ² across four sub-bands must prefer the chromatic lens decisively; the
 * same dip with the same depth in every sub-band (what a flare, a step or an
 * instrumental dip does) must prefer the achromatic one; noise alone must
 * not be decisive.  The ray-shooting gain conserves flux and is 1 without a
 * lens.
 */
#include <errno.h>
#include <math.h>

#include "photometry/ese.h"
#include "tests/test.h"

#define NEP 120
#define NSUB 4

static const double freq[NSUB] = { 1.311e9, 1.373e9, 1.436e9, 1.498e9 };

static double gauss(unsigned *s)
{
	double u1, u2;
	*s = *s * 1103515245u + 12345u;
	u1 = ((*s >> 8) & 0xffffff) / 16777216.0 + 1e-12;
	*s = *s * 1103515245u + 12345u;
	u2 = ((*s >> 8) & 0xffffff) / 16777216.0;
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* chromatic: α_k = α (ν_ref/ν_k)²; otherwise α in every sub-band. */
static void simulate(int lens, int chromatic, double noise, unsigned seed, double *mjd,
		     double *flux, double *err)
{
	double nu_ref = sqrt(freq[0] * freq[NSUB - 1]);
	unsigned s = seed;
	for (int i = 0; i < NEP; i++) {
		mjd[i] = 61000 + i * 1.5;
		for (int k = 0; k < NSUB; k++) {
			double a = 3.0 * (chromatic ? pow(nu_ref / freq[k], 2) : 1);
			double g = lens ? ese_band_gain(a, 0.5, (mjd[i] - 61090) / 25.0) : 1;
			double f0 = 0.2 * pow(freq[k] / 1.4e9, -0.7);
			flux[i * NSUB + k] = f0 * g + noise * f0 * gauss(&s);
			err[i * NSUB + k] = noise * f0;
		}
	}
}

static void test_gain(void)
{
	double sum = 0, n = 0;
	CHECK_NEAR(ese_band_gain(0, 0.5, 0.3), 1, 1e-9);
	CHECK_NEAR(ese_band_gain(0, 0.5, -2.0), 1, 1e-9);
	for (double u = -6; u <= 6; u += 0.01, n++)
		sum += ese_band_gain(2, 0.5, u);
	CHECK_NEAR(sum / n, 1, 0.01);                   /* rays are conserved */
	CHECK(ese_band_gain(2, 0.5, 0) < 0.6, "G(0) %g", ese_band_gain(2, 0.5, 0)); /* a dip */
	/* A stronger lens (longer wavelength) dips deeper at the centre. */
	CHECK(ese_band_gain(3 * 1.14, 0.5, 0) < ese_band_gain(3 * 0.88, 0.5, 0));
	CHECK(isnan(ese_band_gain(-1, 0.5, 0)));
}

static void test_chromatic_lens(void)
{
	double mjd[NEP], f[NEP * NSUB], e[NEP * NSUB];
	ese_band_result r;
	simulate(1, 1, 0.01, 3, mjd, f, e);
	CHECK_OK(ese_score_subband(mjd, NEP, NSUB, freq, f, e, &r), NULL);
	printf("# chromatic event: dchi2 %.1f consistency %.4f decisive %d alpha_ref %.1f "
	       "t0 %.1f T %.1f chi2 %.1f / %.1f / const %.1f\n", r.dchi2, r.consistency,
	       r.decisive, r.alpha_ref, r.t0_mjd, r.t_days, r.chi2_chromatic, r.chi2_achromatic,
	       r.chi2_const);
	CHECK(r.scored && r.decisive, "scored %d decisive %d", r.scored, r.decisive);
	CHECK(r.consistency > 0.99, "consistency %g", r.consistency);
	CHECK_NEAR(r.t0_mjd, 61090, 5);
}

static void test_achromatic_dip(void)
{
	double mjd[NEP], f[NEP * NSUB], e[NEP * NSUB];
	ese_band_result r;
	simulate(1, 0, 0.01, 4, mjd, f, e);
	CHECK_OK(ese_score_subband(mjd, NEP, NSUB, freq, f, e, &r), NULL);
	printf("# achromatic dip: dchi2 %.1f consistency %.4f decisive %d\n", r.dchi2,
	       r.consistency, r.decisive);
	CHECK(r.scored && r.decisive, "scored %d decisive %d", r.scored, r.decisive);
	CHECK(r.consistency < 0.01, "consistency %g", r.consistency);
}

static void test_noise_only(void)
{
	double mjd[NEP], f[NEP * NSUB], e[NEP * NSUB];
	ese_band_result r;
	simulate(0, 0, 0.01, 5, mjd, f, e);
	CHECK_OK(ese_score_subband(mjd, NEP, NSUB, freq, f, e, &r), NULL);
	printf("# noise: dchi2 %.1f consistency %.3f decisive %d (const %.1f, best %.1f)\n",
	       r.dchi2, r.consistency, r.decisive, r.chi2_const,
	       fmin(r.chi2_chromatic, r.chi2_achromatic));
	CHECK(r.scored && !r.decisive);
	/* Too few epochs, bad sub-band counts. */
	CHECK_OK(ese_score_subband(mjd, 5, NSUB, freq, f, e, &r), NULL);
	CHECK(!r.scored && isnan(r.consistency));
	CHECK(ese_score_subband(mjd, NEP, 1, freq, f, e, &r) == -EINVAL);
}

int main(void)
{
	RUN(test_gain);
	RUN(test_chromatic_lens);
	RUN(test_achromatic_dip);
	RUN(test_noise_only);
	return TEST_DONE();
}
