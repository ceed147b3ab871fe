/*
 * imaging/mosaic.h — primary-beam-weighted linear mosaics of pbcor tiles.
 *
 * Each tile is one group's primary-beam-corrected image T = I / pb with its
 * primary-beam image pb (same grid) and σ, the image-plane noise before the
 * correction (the imager's NOISE keyword: 1.4826 MAD of the residual).  The
 * noise of T at a pixel is σ / pb, so the inverse-variance weight is
 *
 *     w = pb² / σ²,   mosaic = Σ w·T / Σ w,   noise = 1 / sqrt(Σ w)
 *
 * (the standard linear mosaic, e.g. Cornwell, Holdaway & Uson 1993 eq. 1 with
 * the tiles already divided by their beams).  Output pixels' world
 * coordinates are converted to each tile's pixel coordinates with WCSLIB (the
 * tile's own header read by wcspih, so any projection and reference pixel a
 * tile uses is honoured) — exactly every 16 pixels along a row and linearly
 * in between (< 1e-5 pixel error, see mosaic.c) — and the tile is
 * interpolated bilinearly.  NaN tile
 * pixels (pbcor blanked below the imager's PB cut) carry no weight: the
 * bilinear coefficients of the finite neighbours are renormalised, and a
 * point with no finite neighbour, or where the interpolated pb < pb_cut,
 * contributes nothing.
 *
 * The output grid is RA---SIN/DEC--SIN about (ra0, dec0), the normalised mean
 * of the tiles' reference directions unless given, reference pixel
 * (nx/2, ny/2) 0-based as in imaging/fitsout.h, with square cells (by
 * default the finest tile cell), and a size (unless given) that covers every
 * tile's pb ≥ pb_cut footprint.
 *
 * Tiles are read and accumulated one at a time, so memory is the output grid
 * (two double accumulators) plus one tile.
 */
#ifndef CONTIMG_MOSAIC_H
#define CONTIMG_MOSAIC_H

#include <stddef.h>

#include <fitsio.h>
#include <wcslib/wcs.h>

#define MOSAIC_NAME_LEN 64

/* The celestial WCS of f's current HDU (path names it in errors): wcspih on
 * the header, then wcssub to the longitude/latitude axes (so callers work in
 * two dimensions) and wcsset.  *ret is the caller's to wcsfree.  -EINVAL when
 * the header has no WCS, no celestial axes or an invalid one; -EIO/-ENOENT
 * for a CFITSIO error.  Shared by the mosaic and the plot/ module's FITS
 * reader. */
int mosaic_read_cel_wcs(fitsfile *f, const char *path, struct wcsprm *ret, char *err,
			size_t errlen);

typedef struct mosaic_tile {
	const char *pbcor_path; /* primary-beam-corrected image FITS (Jy/beam) */
	const char *pb_path;    /* its primary-beam response on the same grid */
	double sigma_jy;        /* noise before pb correction; <= 0: the NOISE keyword */
	const char *name;       /* group name recorded in the header; NULL: OBJECT keyword */
} mosaic_tile;

typedef struct mosaic_params {
	int have_centre;          /* 1: use ra0_rad/dec0_rad; 0: mean of the tile centres */
	double ra0_rad, dec0_rad; /* ICRS grid centre */
	double cell_rad;          /* <= 0: the finest tile cell */
	int nx, ny;               /* <= 0: cover every tile's pb >= pb_cut footprint */
	double pb_cut;            /* tile points with pb below this carry no weight (0.2) */
	int max_size;             /* -ERANGE when the grid would be larger (16384) */
	int nthreads;             /* OpenMP threads over output rows; 0 = all */
} mosaic_params;

/* The defaults shown above. */
void mosaic_params_default(mosaic_params *p);

typedef struct mosaic_result {
	int nx, ny;               /* pixel (i, j) is image[j * nx + i]; i along -RA */
	double ra0_rad, dec0_rad, cell_rad;
	float *image;             /* Σ w·T / Σ w (Jy/beam); NaN where Σ w = 0 */
	float *weight;            /* Σ w = Σ pb²/σ² (1/(Jy/beam)²); 0 where uncovered */
	float *noise;             /* 1 / sqrt(Σ w) (Jy/beam); NaN where uncovered */
	/* The restoring beam written to the mosaic: the largest (by area
	 * bmaj·bmin) of the tiles' beams, since a linear mosaic of tiles with
	 * different beams has no single beam and the largest is the one that is
	 * never an overestimate of the resolution. */
	double bmaj_rad, bmin_rad, bpa_rad;
	double freq_hz, bandwidth_hz; /* the mean of the tiles' FREQ axes; the largest width */
	double mjd_obs;           /* MJD-OBS of the first tile */
	char date_obs[40];        /* DATE-OBS of the first tile */
	int ntiles;
	char (*tile_names)[MOSAIC_NAME_LEN]; /* ntiles group names */
	double *tile_sigma_jy;    /* ntiles σ used */
} mosaic_result;

/* Build the mosaic of tiles[0..ntiles-1] (ntiles >= 1).  *ret is a new result
 * the caller frees with mosaic_result_free().  Errors: -EINVAL (no tiles, bad
 * params, a tile without a celestial WCS or σ, pb and pbcor of different
 * shapes), -EIO / -ENOENT (unreadable FITS, CFITSIO's message in err), -ERANGE
 * (the footprints need a grid larger than max_size, or a tile lies on the far
 * hemisphere of the centre), -ENOMEM. */
int mosaic_build(const mosaic_tile *tiles, int ntiles, const mosaic_params *p,
		 mosaic_result **ret, char *err, size_t errlen);

void mosaic_result_free(mosaic_result *m); /* NULL ok */

enum mosaic_product { MOSAIC_IMAGE = 0, MOSAIC_WEIGHT, MOSAIC_NOISE };

/* Write one product of m as a float32 FITS image (RA---SIN, DEC--SIN, FREQ,
 * STOKES; RADESYS ICRS; BUNIT; BMAJ/BMIN/BPA; DATE-OBS/MJD-OBS of the first
 * tile; NTILES, TILEnnn = group name, HISTORY lines with each tile's σ) to
 * "<path>.tmp<pid>", renamed onto path when complete.  -EINVAL for a bad
 * product, -EIO with CFITSIO's message. */
int mosaic_write(const mosaic_result *m, int product, const char *path, char *err,
		 size_t errlen);

#endif
