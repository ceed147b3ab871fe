/*
 * core/fluxscale.h — the flux-density scale: spectra of the standard
 * calibrators, known without a database.
 *
 * Perley, R. A. & Butler, B. J. 2017, ApJS 230, 7, "An Accurate Flux Density
 * Scale from 50 MHz to 50 GHz" (arXiv:1609.05940), table of fitted
 * coefficients:
 *
 *     log10 S[Jy] = Σ_i a_i (log10 ν[GHz])^i,   i = 0..5
 *
 * for the VLA's four flux-scale standards 3C48, 3C138, 3C147 and 3C286, valid
 * from 50 MHz (3C138: 200 MHz) to 50 GHz.  The VLA calibrator list's fluxes of
 * these sources are rounded epoch values; these polynomials are the scale.
 * A standard is found by its 3C name, its B1950 list name or its J2000 IAU
 * name ("3C286", "1331+305", "J1331+3030"), ignoring case and blanks.
 *
 * Also the power law S = S_ref (ν / ν_ref)^α every other calibrator model
 * uses (state/catalog.h, catalog_calmodel).
 *
 * Pure functions, thread-safe, no allocation.
 */
#ifndef CONTIMG_FLUXSCALE_H
#define CONTIMG_FLUXSCALE_H

/* The index of the standard named name (0 .. fluxscale_count() - 1), or -1
 * when name (NULL and "" included) is none of them. */
int fluxscale_find(const char *name);

/* How many standards there are (4). */
int fluxscale_count(void);

/* The 3C name of standard std ("3C48", "3C138", "3C147", "3C286"); NULL for
 * an index out of range. */
const char *fluxscale_name(int std);

/* The frequency range (Hz) over which the standard's polynomial was fitted.
 * -EINVAL for an index out of range. */
int fluxscale_range_hz(int std, double *ret_lo_hz, double *ret_hi_hz);

/* Flux density (Jy) of standard std at freq_hz, and when ret_alpha is not
 * NULL the local spectral index d log S / d log ν there.  The polynomial is
 * evaluated at any positive frequency (outside the fitted range it is an
 * extrapolation: the caller decides).  NAN (and *ret_alpha untouched) for an
 * index out of range or freq_hz <= 0. */
double fluxscale_flux_jy(int std, double freq_hz, double *ret_alpha);

/* By name: 0 and *ret_flux_jy (and the local index into *ret_alpha when not
 * NULL), or -ENOENT when name is not a standard or freq_hz <= 0. */
int fluxscale_lookup(const char *name, double freq_hz, double *ret_flux_jy, double *ret_alpha);

/* The power law S = flux_jy · (freq_hz / ref_freq_hz)^alpha. */
double fluxscale_power_law_jy(double flux_jy, double ref_freq_hz, double alpha, double freq_hz);

#endif
