/*
 * imaging/fitsout.c — FITS writer for the imager's products (CFITSIO).
 */
#include "imaging/fitsout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "core/astro.h"
#include "core/err.h"
#include "core/fsx.h"

#define RAD2DEG (180.0 / M_PI)

static const char *const names[FITSOUT_NPRODUCTS] = { "image", "residual", "psf",
						       "model", "pb",       "pbcor" };

const char *fitsout_product_name(int product)
{
	return product >= 0 && product < FITSOUT_NPRODUCTS ? names[product] : "?";
}

static const float *product_data(const image_result *r, int product)
{
	switch (product) {
	case FITSOUT_IMAGE:
		return r->image;
	case FITSOUT_RESIDUAL:
		return r->residual;
	case FITSOUT_PSF:
		return r->psf;
	case FITSOUT_MODEL:
		return r->model;
	case FITSOUT_PB:
		return r->pb;
	case FITSOUT_PBCOR:
		return r->pbcor;
	}
	return NULL;
}

void fitsout_create_image(fitsfile **ret_f, const char *cpath, const fitsout_grid *g,
			  int *st)
{
	long naxes[4] = { g->nx, g->ny, 1, 1 };
	double crval1 = g->ra_deg, crval2 = g->dec_deg;
	double cdelt1 = -g->cell_deg, cdelt2 = g->cell_deg;
	double crpix1 = g->nx / 2 + 1, crpix2 = g->ny / 2 + 1, one = 1, lonpole = 180;
	double equinox = 2000.0, stokes = 1, freq = g->freq_hz, bw = g->bandwidth_hz;
	fitsfile *f = NULL;

	fits_create_file(&f, cpath, st);
	*ret_f = f;
	fits_create_img(f, FLOAT_IMG, 4, naxes, st);
	fits_update_key(f, TSTRING, "BUNIT", (void *)g->bunit, "brightness unit", st);
	fits_update_key(f, TSTRING, "BTYPE", "Intensity", NULL, st);
	fits_update_key(f, TSTRING, "CTYPE1", "RA---SIN", "(slant) orthographic projection", st);
	fits_update_key(f, TDOUBLE, "CRVAL1", &crval1, "[deg] ICRS right ascension of centre", st);
	fits_update_key(f, TDOUBLE, "CDELT1", &cdelt1, "[deg]", st);
	fits_update_key(f, TDOUBLE, "CRPIX1", &crpix1, NULL, st);
	fits_update_key(f, TSTRING, "CUNIT1", "deg", NULL, st);
	fits_update_key(f, TSTRING, "CTYPE2", "DEC--SIN", NULL, st);
	fits_update_key(f, TDOUBLE, "CRVAL2", &crval2, "[deg] ICRS declination of centre", st);
	fits_update_key(f, TDOUBLE, "CDELT2", &cdelt2, "[deg]", st);
	fits_update_key(f, TDOUBLE, "CRPIX2", &crpix2, NULL, st);
	fits_update_key(f, TSTRING, "CUNIT2", "deg", NULL, st);
	if (g->xi != 0 || g->eta != 0) {
		/* Slant orthographic (Calabretta & Greisen 2002 §5.1.5): the plane
		 * of a coplanar array, imaging/proj.h. */
		double xi = g->xi, eta = g->eta;
		fits_update_key(f, TDOUBLE, "PV2_1", &xi, "SIN xi: slant of the array plane", st);
		fits_update_key(f, TDOUBLE, "PV2_2", &eta, "SIN eta: slant of the array plane", st);
	}
	fits_update_key(f, TSTRING, "CTYPE3", "FREQ", NULL, st);
	fits_update_key(f, TDOUBLE, "CRVAL3", &freq, g->freq_note, st);
	fits_update_key(f, TDOUBLE, "CDELT3", &bw, g->bandwidth_note, st);
	fits_update_key(f, TDOUBLE, "CRPIX3", &one, NULL, st);
	fits_update_key(f, TSTRING, "CUNIT3", "Hz", NULL, st);
	fits_update_key(f, TSTRING, "CTYPE4", "STOKES", NULL, st);
	fits_update_key(f, TDOUBLE, "CRVAL4", &stokes, "Stokes I", st);
	fits_update_key(f, TDOUBLE, "CDELT4", &one, NULL, st);
	fits_update_key(f, TDOUBLE, "CRPIX4", &one, NULL, st);
	fits_update_key(f, TDOUBLE, "LONPOLE", &lonpole, NULL, st);
	fits_update_key(f, TSTRING, "RADESYS", "ICRS", NULL, st);
	fits_update_key(f, TDOUBLE, "EQUINOX", &equinox, NULL, st);
	fits_update_key(f, TSTRING, "SPECSYS", "TOPOCENT", NULL, st);
}

int fitsout_finish(fitsfile *f, const float *data, long long npix, int st, const char *tmp,
		   const char *path, char *err, size_t errlen)
{
	char msg[FLEN_ERRMSG] = "";
	int rc = 0;

	fits_write_date(f, &st);
	fits_write_img(f, TFLOAT, 1, (LONGLONG)npix, (void *)data, &st);
	fits_close_file(f, &st);
	if (st) {
		fits_get_errstatus(st, msg);
		rc = err_set(err, errlen, -EIO, "%s: CFITSIO: %s", tmp, msg);
		unlink(tmp);
		return rc;
	}
	/* fsync, rename, fsync the directory (core/fsx.h); tmp goes on failure. */
	return fsx_replace(tmp, path, err, errlen);
}

void fitsout_write_provenance(fitsfile *f, const fitsout_provenance *p, int *st)
{
	char line[FLEN_CARD + 64];

	if (!p || *st)
		return;
	if (p->version) {
		char origin[FLEN_VALUE];
		snprintf(origin, sizeof origin, "contimg %.60s", p->version);
		fits_update_key(f, TSTRING, "ORIGIN", origin, "software that wrote this file", st);
	}
	if (p->telescope && *p->telescope)
		fits_update_key(f, TSTRING, "TELESCOP", (void *)p->telescope, NULL, st);
	if (p->instrument && *p->instrument)
		fits_update_key(f, TSTRING, "INSTRUME", (void *)p->instrument, NULL, st);
	if (p->have_obsgeo) {
		double x = p->obsgeo_m[0], y = p->obsgeo_m[1], z = p->obsgeo_m[2];
		fits_update_key(f, TDOUBLE, "OBSGEO-X", &x, "[m] ITRF array reference position", st);
		fits_update_key(f, TDOUBLE, "OBSGEO-Y", &y, "[m] ITRF array reference position", st);
		fits_update_key(f, TDOUBLE, "OBSGEO-Z", &z, "[m] ITRF array reference position", st);
	}
	if (isfinite(p->mjd_avg)) {
		double m = p->mjd_avg;
		fits_update_key(f, TDOUBLE, "MJD-AVG", &m, "[d] UTC MJD of the data mid time", st);
	}
	if (p->date_avg && *p->date_avg)
		fits_update_key(f, TSTRING, "DATE-AVG", (void *)p->date_avg, "UTC mid time", st);
	/* HISTORY cards hold 72 characters; CFITSIO continues a longer text on
	 * further HISTORY cards, so long paths survive whole. */
	if (p->version) {
		snprintf(line, sizeof line, "contimg %s", p->version);
		fits_write_history(f, line, st);
	}
	if (p->config_digest && *p->config_digest) {
		/* "sha256 " and 64 hex digits fit one 72-character HISTORY card;
		 * CONFSHA holds the same digest as a keyword for programs. */
		fits_update_key(f, TSTRING, "CONFSHA", (void *)p->config_digest,
				"SHA-256 of the effective contimg configuration", st);
		fits_write_history(f, "contimg configuration digest:", st);
		snprintf(line, sizeof line, "sha256 %s", p->config_digest);
		fits_write_history(f, line, st);
	}
	if (p->ncaltables <= 0) {
		fits_write_history(f, "contimg caltable none applied", st);
	}
	for (int i = 0; i < p->ncaltables; i++) {
		char buf[4200];
		snprintf(buf, sizeof buf, "contimg caltable %s", p->caltables[i]);
		fits_write_history(f, buf, st);
	}
	/* CALIB says only whether the flux scale was applied; a bandpass-only
	 * image has tables in its HISTORY and CALIB = F, so say which state. */
	if (p->calibration && *p->calibration) {
		fits_update_key(f, TSTRING, "CALSTATE", (void *)p->calibration,
				"full: gains applied; else no flux scale", st);
		snprintf(line, sizeof line, "contimg calibration %s", p->calibration);
		fits_write_history(f, line, st);
	}
}

int fitsout_write(const char *path, const image_result *r, int product, int calibrated,
		  char *err, size_t errlen)
{
	return fitsout_write_prov(path, r, product, calibrated, NULL, err, errlen);
}

int fitsout_write_prov(const char *path, const image_result *r, int product, int calibrated,
		       const fitsout_provenance *prov, char *err, size_t errlen)
{
	const float *data = product_data(r, product);
	const char *bunit;

	if (!data)
		return err_set(err, errlen, -EINVAL, "fitsout: unknown product %d", product);
	switch (product) {
	case FITSOUT_MODEL:
		bunit = "JY/PIXEL";
		break;
	case FITSOUT_PSF:
	case FITSOUT_PB:
		bunit = "";
		break;
	default:
		bunit = "JY/BEAM";
	}
	return fitsout_write_image(path, r, -1, data, names[product], bunit, calibrated, prov, err,
				   errlen);
}

/* The comments that tell an MFS image's keywords from a sub-band image's:
 * notes[key][0] the MFS one, notes[key][1] the sub-band one. */
enum { NOTE_FREQ, NOTE_BANDWIDTH, NOTE_BMAJ, NOTE_BMIN, NOTE_NITER, NOTE_WEIGHTNG };
static const char *const notes[][2] = {
	[NOTE_FREQ] = { "[Hz] weighted mean frequency", "[Hz] sub-band weighted mean frequency" },
	[NOTE_BANDWIDTH] = { "[Hz] bandwidth", "[Hz] sub-band bandwidth" },
	[NOTE_BMAJ] = { "[deg] restoring beam major axis (FWHM)",
			"[deg] common (MFS) restoring beam major axis" },
	[NOTE_BMIN] = { "[deg] restoring beam minor axis (FWHM)",
			"[deg] common restoring beam minor axis" },
	[NOTE_NITER] = { "CLEAN components", "CLEAN components (joined)" },
	[NOTE_WEIGHTNG] = { "uv weighting", "uv weighting (MFS weights)" },
};

int fitsout_write_image(const char *path, const image_result *r, int subband,
			const float *data, const char *product, const char *bunit, int calibrated,
			const fitsout_provenance *prov, char *err, size_t errlen)
{
	const subband_image *o = subband >= 0 ? &r->sub[subband] : NULL;
	int sb = o != NULL; /* the column of notes */
	fitsfile *f = NULL;
	int st = 0;
	char tmp[4200], cpath[4300], date_obs[40], date_avg[40];

	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return err_set(err, errlen, -EINVAL, "fitsout: path too long");
	snprintf(cpath, sizeof cpath, "!%s", tmp);
	astro_jd_to_iso(r->jd_start, 3, date_obs, sizeof date_obs);
	astro_jd_to_iso(r->jd_mid, 3, date_avg, sizeof date_avg);

	double mjd = astro_jd_to_mjd(r->jd_start);
	double bmaj = r->beam.bmaj_rad * RAD2DEG, bmin = r->beam.bmin_rad * RAD2DEG;
	double bpa = r->beam.bpa_rad * RAD2DEG;
	int niter = r->clean.iterations, nmajor = r->clean.major_cycles, calib = calibrated != 0;
	double noise = o ? o->noise_jy : r->noise_jy, peak = r->peak_jy, dr = r->dynamic_range;
	double robust = r->robust, pbcut = r->pb_cut, expo = r->exposure_s;

	fitsout_grid g = {
		.bunit = bunit, .nx = r->nx, .ny = r->ny,
		.ra_deg = r->ra0_rad * RAD2DEG, .dec_deg = r->dec0_rad * RAD2DEG,
		.cell_deg = r->cell_rad * RAD2DEG, .xi = r->xi, .eta = r->eta,
		.freq_hz = o ? o->freq_hz : r->freq_hz, .freq_note = notes[NOTE_FREQ][sb],
		.bandwidth_hz = o ? o->bandwidth_hz : r->bandwidth_hz,
		.bandwidth_note = notes[NOTE_BANDWIDTH][sb],
	};

	fitsout_create_image(&f, cpath, &g, &st);
	fits_update_key(f, TDOUBLE, "BMAJ", &bmaj, notes[NOTE_BMAJ][sb], &st);
	fits_update_key(f, TDOUBLE, "BMIN", &bmin, notes[NOTE_BMIN][sb], &st);
	fits_update_key(f, TDOUBLE, "BPA", &bpa, "[deg] beam position angle, N through E", &st);
	fits_update_key(f, TSTRING, "DATE-OBS", date_obs, "UTC start of the first integration",
			&st);
	fits_update_key(f, TDOUBLE, "MJD-OBS", &mjd, "[d] UTC MJD of DATE-OBS", &st);
	fits_update_key(f, TSTRING, "DATE-AVG", date_avg, "UTC mid time", &st);
	fits_update_key(f, TSTRING, "TIMESYS", "UTC", NULL, &st);
	fits_update_key(f, TDOUBLE, "EXPOSURE", &expo, "[s] integrations x integration time", &st);
	fits_update_key(f, TSTRING, "TELESCOP", (void *)r->telescope, NULL, &st);
	fits_update_key(f, TSTRING, "OBJECT", (void *)r->group, "group id", &st);
	fits_update_key(f, TSTRING, "ORIGIN", "contimg", NULL, &st);
	fits_update_key(f, TSTRING, "PRODUCT", (void *)product, NULL, &st);
	if (o) {
		int nsub = r->nsub, chan0 = o->chan0, nchan = o->nchan;
		fits_update_key(f, TINT, "SUBBAND", &subband, "sub-band index, 0 = lowest frequency",
				&st);
		fits_update_key(f, TINT, "NSUBBAND", &nsub, "sub-bands of the joined CLEAN", &st);
		fits_update_key(f, TINT, "CHAN0", &chan0, "first imager channel of the sub-band", &st);
		fits_update_key(f, TINT, "NCHAN", &nchan, "imager channels in the sub-band", &st);
	}
	fits_update_key(f, TDOUBLE, "NOISE", &noise, "[Jy/beam] 1.4826 MAD of the residual", &st);
	if (!o) {
		/* r's peak and dynamic range are the MFS image's; a sub-band image
		 * carries no measure of its own peak. */
		fits_update_key(f, TDOUBLE, "PEAK", &peak, "[Jy/beam] restored image maximum", &st);
		fits_update_key(f, TDOUBLE, "DYNRANGE", &dr, "peak / noise", &st);
	}
	fits_update_key(f, TINT, "NITER", &niter, notes[NOTE_NITER][sb], &st);
	fits_update_key(f, TINT, "NMAJOR", &nmajor, "CLEAN major cycles", &st);
	if (!o)
		fits_update_key(f, TSTRING, "STOPREAS",
				(void *)(r->clean.stop ? r->clean.stop : ""), "why CLEAN stopped",
				&st);
	fits_update_key(f, TSTRING, "WEIGHTNG", (void *)r->weighting_desc, notes[NOTE_WEIGHTNG][sb], &st);
	fits_update_key(f, TDOUBLE, "ROBUST", &robust, "Briggs robust", &st);
	fits_update_key(f, TLOGICAL, "CALIB", &calib, "calibration solutions applied", &st);
	fits_update_key(f, TDOUBLE, "PBCUT", &pbcut, "pbcor blanked where pb < PBCUT", &st);
	if (!o && isfinite(r->pointing_dec_rad)) {
		double pdec = r->pointing_dec_rad * RAD2DEG;
		fits_update_key(f, TDOUBLE, "PNTDEC", &pdec,
				"[deg] apparent dec of the pointing the pb uses", &st);
	}
	fitsout_write_provenance(f, prov, &st);
	return fitsout_finish(f, data, (long long)r->nx * r->ny, st, tmp, path, err, errlen);
}
