/*
 * imaging/fitsout_sb.c — the sub-band images as FITS files (fitsout.h).
 */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include <fitsio.h>

#include "core/astro.h"
#include "core/err.h"
#include "imaging/fitsout.h"

#define RAD2DEG (180.0 / M_PI)

int fitsout_write_subband(const char *path, const image_result *r, int k, int pbcor,
			  int calibrated, char *err, size_t errlen)
{
	return fitsout_write_subband_prov(path, r, k, pbcor, calibrated, NULL, err, errlen);
}

int fitsout_write_subband_prov(const char *path, const image_result *r, int k, int pbcor,
			       int calibrated, const fitsout_provenance *prov, char *err,
			       size_t errlen)
{
	fitsfile *f = NULL;
	int st = 0;
	char tmp[4200], cpath[4300], date_obs[40], date_avg[40], product[32];

	if (k < 0 || k >= r->nsub || !r->sub)
		return err_set(err, errlen, -EINVAL, "fitsout: no sub-band %d (%d sub-bands)", k,
			       r->nsub);
	const subband_image *o = &r->sub[k];
	const float *data = pbcor ? o->pbcor : o->image;
	if (!data)
		return err_set(err, errlen, -EINVAL, "fitsout: sub-band %d has no %s image", k,
			       pbcor ? "pbcor" : "restored");
	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return err_set(err, errlen, -EINVAL, "fitsout: path too long");
	snprintf(cpath, sizeof cpath, "!%s", tmp);
	snprintf(product, sizeof product, "%s-SB%d", pbcor ? "pbcor" : "image", k);
	astro_jd_to_iso(r->jd_start, 3, date_obs, sizeof date_obs);
	astro_jd_to_iso(r->jd_mid, 3, date_avg, sizeof date_avg);

	double mjd = astro_jd_to_mjd(r->jd_start);
	double bmaj = r->beam.bmaj_rad * RAD2DEG, bmin = r->beam.bmin_rad * RAD2DEG;
	double bpa = r->beam.bpa_rad * RAD2DEG;
	int niter = r->clean.iterations, nmajor = r->clean.major_cycles, calib = calibrated != 0;
	int nsub = r->nsub, chan0 = o->chan0, nchan = o->nchan;
	double noise = o->noise_jy, pbcut = r->pb_cut, expo = r->exposure_s, robust = r->robust;

	fitsout_grid g = {
		.bunit = "JY/BEAM", .nx = r->nx, .ny = r->ny,
		.ra_deg = r->ra0_rad * RAD2DEG, .dec_deg = r->dec0_rad * RAD2DEG,
		.cell_deg = r->cell_rad * RAD2DEG, .xi = r->xi, .eta = r->eta,
		.freq_hz = o->freq_hz, .freq_note = "[Hz] sub-band weighted mean frequency",
		.bandwidth_hz = o->bandwidth_hz, .bandwidth_note = "[Hz] sub-band bandwidth",
	};

	fitsout_create_image(&f, cpath, &g, &st);
	fits_update_key(f, TDOUBLE, "BMAJ", &bmaj, "[deg] common (MFS) restoring beam major axis",
			&st);
	fits_update_key(f, TDOUBLE, "BMIN", &bmin, "[deg] common restoring beam minor axis", &st);
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
	fits_update_key(f, TSTRING, "PRODUCT", product, NULL, &st);
	fits_update_key(f, TINT, "SUBBAND", &k, "sub-band index, 0 = lowest frequency", &st);
	fits_update_key(f, TINT, "NSUBBAND", &nsub, "sub-bands of the joined CLEAN", &st);
	fits_update_key(f, TINT, "CHAN0", &chan0, "first imager channel of the sub-band", &st);
	fits_update_key(f, TINT, "NCHAN", &nchan, "imager channels in the sub-band", &st);
	fits_update_key(f, TDOUBLE, "NOISE", &noise, "[Jy/beam] 1.4826 MAD of the residual", &st);
	fits_update_key(f, TINT, "NITER", &niter, "CLEAN components (joined)", &st);
	fits_update_key(f, TINT, "NMAJOR", &nmajor, "CLEAN major cycles", &st);
	fits_update_key(f, TSTRING, "WEIGHTNG", (void *)r->weighting_desc,
			"uv weighting (MFS weights)", &st);
	fits_update_key(f, TDOUBLE, "ROBUST", &robust, "Briggs robust", &st);
	fits_update_key(f, TLOGICAL, "CALIB", &calib, "calibration solutions applied", &st);
	fits_update_key(f, TDOUBLE, "PBCUT", &pbcut, "pbcor blanked where pb < PBCUT", &st);
	if (prov)
		fitsout_write_provenance(f, prov, &st);
	return fitsout_finish(f, data, (long long)r->nx * r->ny, st, tmp, path, err, errlen);
}
