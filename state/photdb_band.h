/*
 * state/photdb_band.h — the sub-band photometry of the state database:
 * per-source per-image per-sub-band fluxes (photometry_subband), the
 * in-band spectral index of each measurement (photometry_spindex), and the
 * joint sub-band lens fit of an ESE candidate (ese_subband).  Schema: the
 * "phot: photometry_subband, ..." migration in state/db.c.
 *
 * Conventions as state/photdb.h: NAN stored as NULL and read back as NAN,
 * parameterised SQL only, 0 or a negative errno (-EIO for SQLite, -ENOENT
 * for a missing row) with the message in err.
 */
#ifndef CONTIMG_PHOTDB_BAND_H
#define CONTIMG_PHOTDB_BAND_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "state/photdb.h"

/* One source on one sub-band image. */
typedef struct photdb_band_row {
	int64_t group_id;
	char source[PHOTDB_NAME_LEN];
	int subband;             /* 0 = lowest frequency */
	double mjd;
	double freq_hz;          /* the sub-band image's frequency */
	double flux_jy, flux_err_jy; /* forced photometry on its pbcor image */
	double local_rms_jy, pb;
	unsigned forced_flags;
	double correction;       /* the epoch's flux normalisation factor (NAN: none) */
} photdb_band_row;

/* Insert or replace the row for (group_id, source, subband). */
int photdb_band_put(sqlite3 *db, const photdb_band_row *r, char *err, size_t errlen);

/* Every sub-band row of source, ordered by mjd, group_id, subband.  *ret is
 * malloc'd (caller frees; NULL when *ret_n == 0). */
int photdb_band_lightcurve(sqlite3 *db, const char *source, photdb_band_row **ret,
			   size_t *ret_n, char *err, size_t errlen);

/* The in-band spectral index of one measurement (photometry/spindex.h). */
typedef struct photdb_spindex {
	int64_t group_id;
	char source[PHOTDB_NAME_LEN];
	double mjd;
	double alpha, alpha_err;
	double s0_jy, nu0_hz, chi2;
	int npoints;             /* sub-bands used */
} photdb_spindex;

int photdb_spindex_put(sqlite3 *db, const photdb_spindex *r, char *err, size_t errlen);
/* -ENOENT when absent. */
int photdb_spindex_get(sqlite3 *db, int64_t group_id, const char *source, photdb_spindex *ret,
		       char *err, size_t errlen);

/* The joint sub-band lens fit of a source (photometry/ese.h ese_band_result,
 * as stored). */
typedef struct photdb_ese_band {
	char source[PHOTDB_NAME_LEN];
	int n, nsub;
	int decisive;
	double consistency, dchi2;
	double chi2_chromatic, chi2_achromatic;
	double lens_alpha, t0_mjd, t_days, ref_freq_hz;
	double updated_at;
} photdb_ese_band;

/* Upsert. */
int photdb_ese_band_put(sqlite3 *db, const photdb_ese_band *r, char *err, size_t errlen);

/* The stored fit of source: 0, -ENOENT when there is none (the candidate's
 * "subband" is then null), -EIO.  This is what `candidates --json` shows as
 * the "subband" key: {consistency, dchi2, decisive, n, nsub, lens_alpha,
 * ref_freq_hz} (docs/ese.md). */
int photdb_ese_band_get(sqlite3 *db, const char *source, photdb_ese_band *ret, char *err,
			size_t errlen);

#endif
