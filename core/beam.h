/*
 * core/beam.h — the DSA-110 primary beam: an Airy pattern of a uniformly
 * illuminated circular dish (SPEC §3 Image; reference recipe):
 *
 *     P(θ) = [2 J1(x) / x]²,   x = π D sin θ / λ = π D ν sin θ / c,   P(0) = 1.
 *
 * θ is measured from the pointing (hour angle 0, pointing declination for the
 * drift scan).  Power pattern, i.e. what multiplies a source's flux in a
 * visibility of two identical dishes.  Pure functions, thread-safe.
 */
#ifndef CONTIMG_BEAM_H
#define CONTIMG_BEAM_H

#define BEAM_DSA110_DIAM_M 4.65

/* Bessel function of the first kind, order 1 (libm's j1, checked in the tests
 * against Abramowitz & Stegun Table 9.1). */
double beam_j1(double x);

/* [2 J1(x)/x]² with the x → 0 limit 1. */
double beam_airy_x(double x);

/* Power pattern for a dish of diameter diam_m at freq_hz, at sin θ from the
 * pointing (use sqrt(1 − n²) with n the direction cosine to the pointing). */
double beam_airy(double sin_theta, double freq_hz, double diam_m);

/* Angle θ (radians) from the pointing where the power pattern falls to `level`
 * (0 < level < 1) in the main lobe, e.g. 0.5 for the half-power radius.
 * Returns NaN for level outside (0, 1). */
double beam_radius(double level, double freq_hz, double diam_m);

/* Power pattern of a source at (ra, dec) for a pointing at (ra0, dec0), both in
 * the same frame (e.g. CIRS, or hour angles negated as RA). */
double beam_airy_radec(double ra_rad, double dec_rad, double ra0_rad, double dec0_rad,
		       double freq_hz, double diam_m);

#endif
