/*
 * state/imagedb.h — the `images` table: one row per FITS image the image
 * stage wrote (schema: the "imaging: images" migration in state/db.c).
 *
 * The image stage records two rows per group run, the restored image
 * (pbcor = 0) and the primary-beam-corrected one (pbcor = 1); the mosaic
 * planner (state/mosaicdb.h) reads them back.  Values are in the table's
 * units (arcsec, degrees, Hz, seconds, UTC MJD); the caller converts from
 * radians.  All SQL is parameterised.
 */
#ifndef CONTIMG_IMAGEDB_H
#define CONTIMG_IMAGEDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

typedef struct imagedb_row {
	int64_t group_id;                     /* groups.id */
	const char *path;                     /* the FITS file (unique) */
	int pbcor;                            /* 1: primary-beam corrected image */
	double bmaj_arcsec, bmin_arcsec, bpa_deg; /* restoring beam */
	double noise_jy;                      /* 1.4826 MAD of the residual */
	double expected_noise_jy;             /* radiometer expectation from the data
						 (imaging/noise.h); NAN or 0: none (NULL) */
	double vis_sigma_unit;                /* σ of Re I at data weight 1; NAN or 0: none */
	const char *noise_method;             /* "poldiff", "timediff", "none"; NULL ok */
	double peak_jy, dynamic_range;
	double ra_deg, dec_deg;               /* ICRS centre */
	int nx, ny;
	double cell_arcsec;
	double freq_hz, bandwidth_hz;         /* weighted mean frequency, total bandwidth */
	double integration_s;                 /* integrations x integration time */
	double mjd_obs;                       /* UTC start */
	int calibrated;
	int niter, nmajor;                    /* CLEAN components and major cycles */
	const char *weighting;                /* e.g. "briggs 0" */
	double created_at;                    /* unix seconds */
} imagedb_row;

/* Insert the row, or update every column of the row with the same path (a
 * re-run of the group replaces its record).  0, or -EIO with SQLite's
 * message in err.  Callers that record several images as one fact wrap the
 * calls in db_begin()/db_end(). */
int imagedb_record(sqlite3 *db, const imagedb_row *row, char *err, size_t errlen);

#endif
