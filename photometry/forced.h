/*
 * photometry/forced.h — forced photometry of catalog positions on a pbcor image.
 *
 * For every requested position the amplitude of the restoring beam, centred
 * exactly on the (fixed) catalog position with the (fixed) beam shape, is
 * fitted to the primary-beam-corrected image by weighted least squares over a
 * box of about three beams:
 *
 *     F = Σ d_i K_i / σ_i²  /  Σ K_i² / σ_i²
 *
 * where K is the restoring beam (peak 1) and σ_i the noise of pixel i of the
 * pbcor image, σ_i = rms_flat / pb_i (the flat-noise rms map, see below,
 * divided by the primary beam).  Sources closer than `group_beams` beams are
 * fitted jointly (a small linear system A F = b, A_jk = Σ K_j K_k / σ²).
 *
 * Noise: a background-rms map is computed once per image from the flat-noise
 * image (pbcor × pb, or the pbcor image when no pb is given) as 1.4826 × MAD
 * (with two rounds of 3σ clipping, so sources do not widen it) in tiles of
 * `rms_box_beams` beams, sampling every (bmin/3)-th pixel, bilinearly
 * interpolated between tile centres.  The flux error is the local rms at the source scaled by the PB
 * (Condon 1997, PASP 109, 166: for a fixed-shape fit the amplitude error is set
 * by the rms per beam, not by the number of pixels), times the exact factor
 * sqrt(Σ_ij K_i K_j C_ij) / Σ K² for noise whose correlation C is the
 * restoring beam (the noise of an interferometric image is correlated over a
 * beam; for a Gaussian beam and a large box the factor tends to sqrt(4/3)), and
 * times sqrt((A⁻¹)_jj A_jj) for a jointly fitted source (the variance inflation
 * due to its neighbours).  With noise_correlated = 0 the white-noise formula
 * 1/sqrt(Σ K²/σ²) is used instead.
 *
 * Flags (forced_result.flags) say why a number is missing or less reliable;
 * FORCED_BAD marks the ones that leave flux_jy = NAN.  Pixel coordinates are
 * 0-based with x along the first FITS axis (fastest in memory); the image is
 * assumed to be in the standard orientation (east to the left: x grows
 * westward, y grows northward, no rotation), as every contimg image is.
 *
 * Errors follow core/err.h.  Library code: no logging.
 */
#ifndef CONTIMG_FORCED_H
#define CONTIMG_FORCED_H

#include <stddef.h>

/* Map a sky position to 0-based fractional pixel coordinates.  Returns 0, or
 * non-zero when the position cannot be projected (behind the projection). */
typedef int (*forced_sky2pix_fn)(void *ctx, double ra_rad, double dec_rad,
				 double *ret_x, double *ret_y);

/* The image to measure (nothing is copied; the caller keeps it alive). */
typedef struct forced_image {
	int nx, ny;               /* pixels along x (fastest) and y */
	const float *data;        /* pbcor image, Jy/beam, nx*ny, NAN = blank */
	const float *pb;          /* primary-beam response 0..1 (nx*ny) or NULL (= 1 everywhere) */
	double cell_rad;          /* pixel size (square pixels) */
	double bmaj_rad, bmin_rad;/* restoring beam FWHM */
	double bpa_rad;           /* beam position angle, north through east */
	forced_sky2pix_fn sky2pix;
	void *sky2pix_ctx;
} forced_image;

typedef struct forced_params {
	double box_beams;       /* fit box side in units of bmaj (3) */
	double group_beams;     /* fit jointly when closer than this many bmaj (1.5) */
	double pb_cut;          /* skip positions where pb < pb_cut (0.2) */
	double rms_box_beams;   /* rms-map tile side in units of bmaj (10) */
	int noise_correlated;   /* 1: errors for beam-correlated noise (default); 0: white */
	double max_vif;         /* joint fit: flag FORCED_DEGENERATE when the variance
				   inflation sqrt((A⁻¹)_jj A_jj) exceeds this (10) */
	int threads;            /* OpenMP threads (<= 0: 1) */
} forced_params;

/* Fill p with the defaults above. */
void forced_params_default(forced_params *p);

enum forced_flag {
	FORCED_OUTSIDE    = 1u << 0, /* position off the image or not projectable */
	FORCED_PB_CUT     = 1u << 1, /* primary beam below pb_cut at the position */
	FORCED_EDGE       = 1u << 2, /* fit box truncated by the image edge */
	FORCED_NAN        = 1u << 3, /* blank (NaN) pixels inside the fit box */
	FORCED_CORE_MISSING = 1u << 4, /* a pixel inside the beam's half-power ellipse is
					  off the image or blank: no flux */
	FORCED_BLENDED    = 1u << 5, /* fitted jointly with neighbour(s) */
	FORCED_DEGENERATE = 1u << 6, /* joint fit cannot separate this source (too close) */
	FORCED_NO_NOISE   = 1u << 7, /* no usable noise estimate at the position */
};
/* Flags that leave flux_jy = NAN. */
#define FORCED_BAD (FORCED_OUTSIDE | FORCED_PB_CUT | FORCED_CORE_MISSING | \
		    FORCED_DEGENERATE | FORCED_NO_NOISE)

typedef struct forced_result {
	double x_px, y_px;      /* fitted position in pixels (NAN if not projectable) */
	double flux_jy;         /* fitted beam amplitude on the pbcor image (Jy) or NAN */
	double flux_err_jy;     /* 1σ error or NAN */
	double rms_jy;          /* local rms of the pbcor image at the position (rms_flat / pb) */
	double pb;              /* primary beam at the position (1 when no pb) */
	double chi2;            /* Σ (d - model)² / σ² over the box (pixels are correlated, so
				   compare it with npix only relatively) */
	int npix;               /* pixels used in the fit */
	int group_size;         /* 1, or the number of sources fitted jointly */
	unsigned flags;         /* enum forced_flag */
} forced_result;

/* ---- background rms map ---- */

typedef struct forced_rms_map forced_rms_map;

/* Compute the rms map of img (flat-noise image, see the top).  *ret owns its
 * memory; free with forced_rms_map_free().  -EINVAL on a bad image, -ENOMEM. */
int forced_rms_map_new(const forced_image *img, const forced_params *p,
		       forced_rms_map **ret, char *err, size_t errlen);

/* Flat-noise rms (Jy/beam) at fractional pixel (x, y); NAN where no tile has
 * data nearby. */
double forced_rms_at(const forced_rms_map *m, double x, double y);

void forced_rms_map_free(forced_rms_map *m);

/* ---- measurement ---- */

/* Measure n positions (ra_rad[i], dec_rad[i]) on img.  rms may be NULL, then
 * the map is computed (and freed) inside.  ret_res[n] is caller-allocated and
 * every entry is filled (flags say which ones have no flux).  Returns 0,
 * -EINVAL (bad image/parameters), -ENOMEM. */
int forced_measure(const forced_image *img, const forced_rms_map *rms,
		   const forced_params *p, const double *ra_rad, const double *dec_rad,
		   size_t n, forced_result *ret_res, char *err, size_t errlen);

/* The restoring beam (peak 1) at pixel offset (dx, dy) from its centre.
 * Exposed so tests and simulators build images with exactly the kernel the
 * fit assumes. */
double forced_beam(const forced_image *img, double dx_px, double dy_px);

#endif
