/*
 * imaging/fitsout.h — write one image of an image_result as a FITS file, and
 * the pieces of that writer other image writers (imaging/mosaic) share.
 *
 * Float32, 4 axes (RA---SIN, DEC--SIN, FREQ, STOKES) with WCSLIB-consistent
 * keywords: CRVAL1/2 the ICRS centre (deg), CRPIX at pixel (nx/2, ny/2)
 * 0-based = (nx/2 + 1, ny/2 + 1) in FITS, CDELT1 = −cell, CDELT2 = +cell,
 * PV2_1/PV2_2 = ξ, η for a slant SIN (imaging/proj.h), LONPOLE 180, RADESYS 'ICRS', EQUINOX 2000; FREQ at the imaging-weighted
 * mean frequency with the bandwidth as CDELT3 (SPECSYS 'TOPOCENT'); STOKES
 * 1 (I).  Also BUNIT, BMAJ/BMIN/BPA (deg), DATE-OBS/MJD-OBS (start of the
 * first integration), DATE-AVG, EXPOSURE, TELESCOP, OBJECT (group id),
 * ORIGIN, and the imager's record: NOISE, PEAK, DYNRANGE, NITER, NMAJOR,
 * STOPREAS, WEIGHTNG, ROBUST, CALIB, PBCUT, PRODUCT.
 *
 * The file is written to "<path>.tmp<pid>" and renamed onto path only when
 * complete, so a reader never sees a partial file.
 */
#ifndef CONTIMG_FITSOUT_H
#define CONTIMG_FITSOUT_H

#include <stddef.h>

#include <fitsio.h>

#include "imaging/image.h"

enum fitsout_product {
	FITSOUT_IMAGE = 0, FITSOUT_RESIDUAL, FITSOUT_PSF, FITSOUT_MODEL, FITSOUT_PB, FITSOUT_PBCOR,
	FITSOUT_NPRODUCTS
};

/* "image", "residual", "psf", "model", "pb", "pbcor". */
const char *fitsout_product_name(int product);

/* Write product `product` of r to path.  calibrated: 1 when calibration
 * solutions were applied (CALIB = T).  -EINVAL for a bad product, -EIO with
 * CFITSIO's message in err. */
int fitsout_write(const char *path, const image_result *r, int product, int calibrated,
		  char *err, size_t errlen);

/* The pixel grid and spectral axis of a contimg image (fitsout_create_image).
 * Angles in degrees here, computed by the caller, so that each writer keeps
 * its own conversion of the radians it holds. */
typedef struct fitsout_grid {
	const char *bunit;              /* BUNIT ("" for dimensionless) */
	long nx, ny;                    /* pixels; reference pixel (nx/2, ny/2) 0-based */
	double ra_deg, dec_deg;         /* CRVAL1/2: ICRS centre */
	double cell_deg;                /* CDELT1 = -cell_deg, CDELT2 = +cell_deg */
	double xi, eta;                 /* SIN slant (imaging/proj.h): PV2_1, PV2_2 when
					   either is non-zero */
	double freq_hz, bandwidth_hz;   /* CRVAL3, CDELT3 */
	const char *freq_note;          /* comment of CRVAL3 */
	const char *bandwidth_note;     /* comment of CDELT3 */
} fitsout_grid;

/* Create the FITS file cpath (CFITSIO file-name syntax, e.g. "!path" to
 * overwrite) with a float32 4-axis primary image of g's size and write the
 * header block every contimg image shares: BUNIT, BTYPE, the RA---SIN /
 * DEC--SIN / FREQ / STOKES axes as described at the top of this header,
 * LONPOLE, RADESYS, EQUINOX and SPECSYS.  The caller adds its own keywords
 * (beam, dates, provenance), then ends with fitsout_finish (also on error:
 * *ret_f may then be NULL).  CFITSIO status convention: does nothing when *st
 * is non-zero on entry, sets it on failure. */
void fitsout_create_image(fitsfile **ret_f, const char *cpath, const fitsout_grid *g,
			  int *st);

/* Finish a file begun with fitsout_create_image at cpath "!<tmp>": write DATE
 * and the npix float pixels, close f, and rename tmp onto path.  st is the
 * CFITSIO status so far.  Returns 0; -EIO with CFITSIO's message when st or
 * any of these steps failed, -errno when the rename failed; tmp is removed on
 * failure. */
int fitsout_finish(fitsfile *f, const float *data, long long npix, int st, const char *tmp,
		   const char *path, char *err, size_t errlen);

/* Provenance of an image (issue 18): what made it, from what, where.  Every
 * field may be absent (NULL, 0, NaN): absent ones are not written. */
typedef struct fitsout_provenance {
	const char *version;        /* contimg version (core/version.h) */
	const char *config_digest;  /* SHA-256 hex of the effective configuration */
	const char *const *caltables; /* paths of the calibration tables applied */
	int ncaltables;
	const char *telescope;      /* TELESCOP ("" / NULL: left as the writer set it) */
	const char *instrument;     /* INSTRUME, e.g. "DSA-110" */
	int have_obsgeo;            /* 1: obsgeo_m is set */
	double obsgeo_m[3];         /* OBSGEO-X/Y/Z: ITRF (WGS84 ECEF) metres of the array
				       reference position */
	double mjd_avg;             /* MJD-AVG: UTC MJD of the data's mid time (NaN: absent) */
	const char *date_avg;       /* DATE-AVG, ISO UTC (NULL: absent) */
	const char *calibration;    /* CALSTATE: "full" (gains applied: the flux scale),
				       "bandpass-only" (no flux scale: not Jy), "none"
				       (NULL: absent) */
} fitsout_provenance;

/* Write p's keywords into the current HDU of f (any image HDU, before its
 * data or after; CFITSIO keeps the header growing):
 *   ORIGIN   = 'contimg VERSION'
 *   INSTRUME, TELESCOP (when given), OBSGEO-X/Y/Z [m], MJD-AVG [d], DATE-AVG
 *   CONFSHA  = 'DIGEST' (the configuration digest, 64 hex digits)
 *   HISTORY  contimg VERSION
 *   HISTORY  contimg configuration digest:
 *   HISTORY  sha256 DIGEST
 *   HISTORY  caltable PATH            (one per table applied; "none applied")
 *   CALSTATE = 'full' | 'bandpass-only' | 'none', and HISTORY contimg calibration
 *            STATE (when p->calibration is set)
 * Existing keys of those names are replaced (update), HISTORY appended.
 * CFITSIO status convention (does nothing when *st is set on entry). */
void fitsout_write_provenance(fitsfile *f, const fitsout_provenance *p, int *st);

/* fitsout_write with p's provenance in the header (p NULL: as fitsout_write). */
int fitsout_write_prov(const char *path, const image_result *r, int product, int calibrated,
		       const fitsout_provenance *p, char *err, size_t errlen);

/* Sub-band k of r (imaging/subband.h): pbcor = 0 the restored image, 1 the
 * primary-beam-corrected one ("image-SB<k>", "pbcor-SB<k>").  The same grid
 * and keywords as fitsout_write, with the FREQ axis at the sub-band's
 * imaging-weighted mean frequency (CDELT3 its bandwidth), NOISE that of its
 * residual, and SUBBAND k, NSUBBAND, CHAN0/NCHAN (the imager's averaged
 * channels it holds).  The restoring beam is the MFS one (common to every
 * sub-band).  -EINVAL for a k the result does not have, -EIO as above.
 * (imaging/fitsout_sb.c) */
int fitsout_write_subband(const char *path, const image_result *r, int k, int pbcor,
			  int calibrated, char *err, size_t errlen);
/* fitsout_write_subband with p's provenance in the header (p NULL: as it). */
int fitsout_write_subband_prov(const char *path, const image_result *r, int k, int pbcor,
			       int calibrated, const fitsout_provenance *p, char *err,
			       size_t errlen);

/* The writer behind fitsout_write_prov and fitsout_write_subband_prov: data
 * (nx * ny floats of r's grid) to path with the keywords described at the top
 * of this header.  subband < 0: the MFS image (FREQ, NOISE of r; PEAK,
 * DYNRANGE, STOPREAS, PNTDEC); subband k (0 <= k < r->nsub, checked by the
 * caller): sub-band k's frequency, bandwidth and NOISE, SUBBAND, NSUBBAND,
 * CHAN0, NCHAN, and comments that say the beam and weights are the MFS ones.
 * product is the PRODUCT value, bunit BUNIT; prov as fitsout_write_prov
 * (NULL: none).  0; -EINVAL for a path too long; -EIO as fitsout_finish. */
int fitsout_write_image(const char *path, const image_result *r, int subband,
			const float *data, const char *product, const char *bunit, int calibrated,
			const fitsout_provenance *prov, char *err, size_t errlen);

#endif
