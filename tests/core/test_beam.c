/*
 * tests/core/test_beam.c — the Airy primary beam against tabulated Bessel
 * values (Abramowitz & Stegun, Table 9.1) and the classical Airy-disc numbers
 * (half-power full width 1.02899 λ/D, first null at x = 3.83171).
 */
#include <math.h>

#include "core/beam.h"
#include "core/vis.h"
#include "tests/test.h"

static void test_j1_table(void)
{
	/* A&S Table 9.1. */
	CHECK_NEAR(beam_j1(0.0), 0.0, 1e-15);
	CHECK_NEAR(beam_j1(1.0), 0.4400505857, 1e-10);
	CHECK_NEAR(beam_j1(2.0), 0.5767248078, 1e-10);
	CHECK_NEAR(beam_j1(5.0), -0.3275791376, 1e-10);
	CHECK_NEAR(beam_j1(10.0), 0.0434727462, 1e-10);
	CHECK_NEAR(beam_j1(3.8317059702), 0.0, 1e-10); /* first zero j1,1 */
	CHECK_NEAR(beam_j1(-1.0), -0.4400505857, 1e-10);
}

static void test_airy_shape(void)
{
	CHECK_NEAR(beam_airy_x(0), 1, 0);
	CHECK_NEAR(beam_airy_x(1e-6), 1, 1e-12);
	/* Continuous across the small-x branch. */
	CHECK_NEAR(beam_airy_x(0.99e-4), pow(2 * beam_j1(1.01e-4) / 1.01e-4, 2), 1e-9);
	CHECK_NEAR(beam_airy_x(1.6163399), 0.5, 1e-7);      /* half power */
	CHECK_NEAR(beam_airy_x(3.8317059702), 0, 1e-18);    /* first null */
	/* First sidelobe: 0.0175 of the peak (−17.6 dB) at x = 5.1356. */
	CHECK_NEAR(beam_airy_x(5.1356223), 0.0174978, 1e-6);
	CHECK_NEAR(beam_airy(0, 1.4e9, 4.65), 1, 0);
}

static void test_half_power_radius(void)
{
	double nu = 1.4e9, d = BEAM_DSA110_DIAM_M, lam = VIS_C_M_S / nu;
	double r = beam_radius(0.5, nu, d);

	/* FWHM of an Airy disc = 1.02899 λ/D (small angles; asin adds ~1e-4). */
	CHECK_NEAR(2 * r / (1.02899 * lam / d), 1, 5e-4);
	CHECK_NEAR(beam_airy(sin(r), nu, d), 0.5, 1e-9);
	/* DSA-110 at 1.4 GHz: FWHM ≈ 2.71°. */
	CHECK_NEAR(2 * r * 180 / M_PI, 2.714, 0.005);
	/* Higher frequency, narrower beam. */
	CHECK(beam_radius(0.5, 1.5e9, d) < r, "%s", "beam should narrow with frequency");
	CHECK(isnan(beam_radius(1.5, nu, d)), "%s", "level > 1 must give NaN");
	CHECK(isnan(beam_radius(0, nu, d)), "%s", "level 0 must give NaN");
	/* The 0.2 cut used for pbcor lies outside half power. */
	CHECK(beam_radius(0.2, nu, d) > r, "%s", "0.2 radius inside half power");
}

static void test_radec(void)
{
	double nu = 1.4e9, d = 4.65, r = beam_radius(0.5, nu, d);

	/* Half power due north, and due east at dec 55° (the RA offset is
	 * larger by 1/cos δ, to first order). */
	CHECK_NEAR(beam_airy_radec(2.0, 0.96 + r, 2.0, 0.96, nu, d), 0.5, 1e-9);
	CHECK_NEAR(beam_airy_radec(2.0 + r / cos(0.96), 0.96, 2.0, 0.96, nu, d), 0.5, 2e-3);
	CHECK_NEAR(beam_airy_radec(2.0, 0.96, 2.0, 0.96, nu, d), 1, 0);
}

int main(void)
{
	RUN(test_j1_table);
	RUN(test_airy_shape);
	RUN(test_half_power_radius);
	RUN(test_radec);
	return TEST_DONE();
}
