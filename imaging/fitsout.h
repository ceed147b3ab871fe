/*
 * imaging/fitsout.h — write one image of an image_result as a FITS file.
 *
 * Float32, 4 axes (RA---SIN, DEC--SIN, FREQ, STOKES) with WCSLIB-consistent
 * keywords: CRVAL1/2 the ICRS centre (deg), CRPIX at pixel (nx/2, ny/2)
 * 0-based = (nx/2 + 1, ny/2 + 1) in FITS, CDELT1 = −cell, CDELT2 = +cell,
 * LONPOLE 180, RADESYS 'ICRS', EQUINOX 2000; FREQ at the imaging-weighted
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

#endif
