/*
 * core/predict.h — model visibilities of a point-source sky (exact geometry).
 *
 * For every integration t, baseline row and channel ν:
 *
 *     V = Σ_s S_s(ν) · A_s(t, ν) · exp(+2πi (u l + v m + w (n − 1)) ν / c)
 *
 * with (u, v, w) the vis_set's uvw_m of that row and (l, m, n) the source's
 * direction cosines in the same frame (no small-angle terms, w-term kept):
 *  - DRIFT sets: the source's CIRS position at t (eraAtciq), hour angle
 *    H = ERA + lon − RA_CIRS, l = −cos δ sin H, m = sin δ cos δ0 − cos δ sin δ0 cos H,
 *    n = sin δ sin δ0 + cos δ cos δ0 cos H, δ0 = phase_dec_rad — the reference recipe.
 *    With polar motion H and δ are the terrestrial ones of
 *    astro_frame_cirs_to_hadec (the frame of the file's uvw).
 *  - FIXED sets: the source's geocentric apparent direction (GCRS axes) on the
 *    basis (east, north, centre) of the phase centre's geocentric apparent
 *    direction at t gives (l_a, m_a, n); the uvw that convert_rephase()
 *    writes carry the Jacobian Jᵀ of astro_frame_fixed_basis() on (u, v), so
 *    (l, m) = J⁻¹ (l_a, m_a) — the ICRS tangent-plane offsets to ~1e-4·θ² —
 *    and u l + v m + w (n − 1) is the exact apparent phase.  See
 *    docs/conventions.md.
 *  - A = Airy power pattern (core/beam.h) at the angle between the source and
 *    the pointing (terrestrial hour angle 0, pointing_dec_rad — or
 *    phase_dec_rad when the set has no pointing dec) at t, dish diameter from
 *    the params or ants[].
 *  - Earth orientation: params dut1_s, xp_rad, yp_rad (all 0: UT1 = UTC, no
 *    polar motion, the reference recipe).  Use the values the set was
 *    rephased with (convert_rephase_to).
 *  - Unpolarised sky: XX = YY = RR = LL = I (Stokes I codes get I too);
 *    cross-hands get 0.  Autocorrelations (uvw = 0) get Σ S·A (no SEFD term).
 *
 * Flags and weights are not touched.  Thread-safe for different vis_sets.
 */
#ifndef CONTIMG_PREDICT_H
#define CONTIMG_PREDICT_H

#include <stddef.h>

#include "core/astro.h"
#include "core/sky.h"
#include "core/vis.h"

enum predict_mode {
	PREDICT_OVERWRITE = 0, /* v->vis = model */
	PREDICT_ADD = 1,       /* v->vis += model */
	PREDICT_SUBTRACT = 2,  /* v->vis -= model (residuals) */
};

typedef struct predict_params {
	int nthreads;      /* OpenMP threads; <= 0: the OpenMP default */
	int use_beam;      /* 1 (default): apply the Airy beam; 0: A = 1 */
	double diam_m;     /* dish diameter; <= 0: ants[0].diam_m, else 4.65 m */
	double dut1_s;     /* UT1 − UTC, seconds (default 0) */
	double xp_rad;     /* polar motion (default 0; core/astro.h astro_eop) */
	double yp_rad;
	double min_beam;   /* skip a source at a time when S·A would use A below this (default 0) */
} predict_params;

void predict_params_default(predict_params *p);

/* Predict the sky model m into v (mode: enum predict_mode).  Uses v's times,
 * uvw, freqs, pols, site, phase type and centre.  -EINVAL (message in err)
 * when v lacks what the phase type needs (e.g. FIXED without a centre, no
 * site), -ENOMEM on allocation failure. */
int predict_vis(vis_set *v, const sky_model *m, const predict_params *p, int mode,
		char *err, size_t errlen);

/* Geometry of one source at integration t of v, as predict_vis uses it:
 * ret_lmn = (l, m, n) in the frame of v's uvw (for FIXED sets n is the exact
 * apparent one, so l² + m² + n² = 1 only to ~1e-4·θ²), *ret_sin_theta = sine
 * of the angle to the pointing (beam argument).  Either output may be NULL;
 * eop NULL: zero Earth orientation. */
int predict_source_geometry(const vis_set *v, int t, double ra_rad, double dec_rad,
			    const astro_eop *eop, double ret_lmn[3], double *ret_sin_theta,
			    char *err, size_t errlen);

#endif
