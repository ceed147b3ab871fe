/*
 * imaging/beamfit.h — restoring beam from the PSF and restoration.
 *
 * beamfit_psf() fits an elliptical Gaussian to the PSF's main lobe: the
 * pixels connected to the peak (nx/2, ny/2) where the PSF exceeds 0.35 (the
 * level CASA uses for its main-lobe fit), by weighted linear least squares on
 * ln PSF = c − (A l² + B l m + C m²) with weights PSF² (equivalent to a least-
 * squares fit of the PSF values themselves to first order, and exact for a
 * Gaussian).  The beam is given as FWHM major/minor axes and the position
 * angle of the major axis from north through east (the FITS BPA convention),
 * in radians, normalised to (−π/2, π/2].
 *
 * Pixel geometry as imaging/grid.h: l = −(ix − nx/2)·cell, m = (iy − ny/2)·cell.
 */
#ifndef CONTIMG_BEAMFIT_H
#define CONTIMG_BEAMFIT_H

#include <stddef.h>

typedef struct beamfit_beam {
	double bmaj_rad, bmin_rad, bpa_rad;
} beamfit_beam;

/* Fit the main lobe of psf[ny*nx] (peak 1 at the centre pixel).  -EINVAL
 * when the centre is not a positive maximum or the lobe has < 6 pixels
 * (e.g. a PSF undersampled by the cell), -ERANGE when the fitted quadratic
 * form is not positive definite. */
int beamfit_psf(const float *psf, int nx, int ny, double cell_rad, beamfit_beam *ret,
		char *err, size_t errlen);

/* WSClean's convention (Fit2DGaussianCentred, beam-fitting box 10): a
 * centred, peak-1 Gaussian (three parameters: major, minor, PA) fitted by
 * Levenberg–Marquardt least squares to every PSF pixel within a box
 * box_scale × est_rad wide, starting from *b (e.g. beamfit_psf's result).
 * Where the PSF has strong near sidelobes (sparse arrays) this beam is wider
 * than the main-lobe fit; restored peaks of slightly smeared sources then
 * lose less.  Returns 0 and updates *b, or -ERANGE when the fit diverges
 * (*b untouched). */
int beamfit_psf_box(const float *psf, int nx, int ny, double cell_rad, double est_rad,
		    double box_scale, beamfit_beam *b, char *err, size_t errlen);

/* Value at offset (dl, dm) radians of the peak-1 Gaussian of beam b. */
double beamfit_gauss(const beamfit_beam *b, double dl, double dm);

/* image[ny*nx] += model ⊗ beam, the beam normalised to peak 1 so that a
 * component of S Jy adds S Jy/beam at its pixel (restored = this + residual).
 * Components are the non-zero pixels of model[ny*nx]. */
void beamfit_restore(float *image, const float *model, int nx, int ny, double cell_rad,
		     const beamfit_beam *b, int nthreads);

#endif
