/*
 * photometry/pointcheck.h — is the primary beam where we think it is?  A
 * declination offset of the pointing from the flux ratios of catalog sources.
 *
 * The pbcor image divides by the beam pb(δ_p) of the pointing declination
 * the pipeline used.  If the dishes really pointed at δ_p + Δδ, a source of
 * catalog flux S is measured at
 *
 *     F = S · pb(δ_p + Δδ) / pb(δ_p),   so   ln(F/S) = ln pb(δ_p + Δδ) − ln pb(δ_p).
 *
 * Expanding in Δδ:  ln(F/S) = Δδ · z + ½ Δδ² · ∂z/∂δ_p + …,  with
 * z = ∂ ln pb / ∂δ_p at the source (imaging/pbeam.h, pbeam_at).  For the Airy
 * power pattern P(x) = [2 J1(x)/x]², x = k sin θ, k = π D ν / c:
 *
 *     d ln P / dx = −2 J2(x) / J1(x),   ∂θ/∂δ_p = −m / sin θ
 *     ⇒  z = 2k · J2(x)/J1(x) · m / sin θ  →  (k²/2) · m    (θ small),
 *
 * m ≈ δ − δ_p the source's offset towards north.  Near the centre the beam is
 * Gaussian in θ (ln P ≈ −k²θ²/4), ∂z/∂δ_p = −k²/2 is the same for every
 * source, and the model
 *
 *     ln R_i = a + Δδ · z_i,      R_i = F_i / S_i,
 *
 * is exact: the ratio grows linearly with the source's declination offset
 * (slope Δδ · k²/2 = Δδ × 0.709 deg⁻² at 1.4 GHz: a 0.1° error changes fluxes
 * by ∓7 % at 1° south/north), and the intercept a (ln of the flux scale at
 * the pointing) absorbs the quadratic term, a catalog or calibration scale
 * and the mean spectral index.  Beyond the Gaussian core the Airy terms left
 * out are (Δδ/θ_FWHM)²-small (tests/photometry/test_pointcheck.c measures the
 * bias on exact Airy ratios).
 *
 * pointcheck_fit solves that line by weighted least squares with
 * σ_i² = (σ_R,i / R_i)² + scatter² (measurement and catalog errors, plus an
 * intrinsic scatter of catalog vs measured fluxes: resolution, variability,
 * spectral indices), drops outliers beyond clip_sigma robust σ and refits,
 * and scales the offset's error by √χ²_ν when χ²_ν > 1.  Sources must lie on
 * both sides (z > 0 north, z < 0 south): the comparison is north vs south.
 *
 * Pure: no files, no database, no logging.  Angles in radians.
 */
#ifndef CONTIMG_POINTCHECK_H
#define CONTIMG_POINTCHECK_H

#include <stddef.h>

typedef struct pointcheck_source {
	double ratio;        /* measured (pbcor) flux / catalog flux at the image frequency, > 0 */
	double ratio_err;    /* 1σ of ratio from the measurement and the catalog (>= 0) */
	double dlnpb_ddec;   /* z = ∂ ln pb / ∂δ_p at the source for the pointing used (per rad) */
} pointcheck_source;

typedef struct pointcheck_params {
	double scatter;          /* fractional scatter added in quadrature (0.03) */
	double clip_sigma;       /* drop |residual| > clip_sigma × robust σ (4) */
	int min_sources;         /* fewest sources in the fit (6) */
	int min_per_side;        /* fewest with z > 0 and with z < 0 (2) */
	double threshold_rad;    /* warn when |Δδ| exceeds this (0.05°) ... */
	double min_significance; /* ... by at least this many σ of Δδ: |Δδ|/σ >= (3) */
} pointcheck_params;

enum pointcheck_status {
	POINTCHECK_OK = 0,        /* fitted */
	POINTCHECK_TOO_FEW = 1,   /* fewer than min_sources usable, or one side short */
	POINTCHECK_DEGENERATE = 2,/* the z values do not spread (no lever arm) */
};

typedef struct pointcheck_result {
	int status;               /* enum pointcheck_status; the fields below are NAN/0 unless OK */
	int ninput;               /* sources given with a finite ratio > 0 and finite z */
	int nused;                /* in the final fit */
	int nnorth, nsouth;       /* of which z > 0, z < 0 */
	int nclipped;             /* dropped as outliers */
	double offset_rad;        /* Δδ: true pointing minus the one used (north positive) */
	double offset_err_rad;    /* 1σ, scaled by √χ²_ν when that exceeds 1 */
	double scale;             /* exp(a): the flux ratio a source at the pointing would have */
	double chi2_nu;           /* of the final fit (dof = nused − 2) */
	double significance;      /* |Δδ| / σ */
	int warn;                 /* 1: |Δδ| > threshold_rad and significance >= min_significance */
} pointcheck_result;

/* Defaults above. */
void pointcheck_params_default(pointcheck_params *p);

/* Fit Δδ to n sources (entries with a non-finite or non-positive ratio, a
 * negative error or a non-finite z are ignored).  Returns 0 with *ret filled
 * (status says whether there was a fit); -EINVAL for NULL arguments or bad
 * params (min_sources < 3, min_per_side < 1, clip_sigma <= 0, scatter < 0),
 * -ENOMEM. */
int pointcheck_fit(const pointcheck_source *src, size_t n, const pointcheck_params *p,
		   pointcheck_result *ret);

#endif
