/*
 * state/photdb_band.c — sub-band photometry tables (see photdb_band.h).
 */
#include "state/photdb_band.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"

static int sql_fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	return err_set(err, errlen, -EIO, "%s: %s", what, sqlite3_errmsg(db));
}

int photdb_band_put(sqlite3 *db, const photdb_band_row *r, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO photometry_subband (group_id, source, subband, mjd, "
		"freq_hz, flux_jy, flux_err_jy, local_rms_jy, pb, forced_flags, correction) "
		"VALUES (?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "photometry_subband insert");
	sqlite3_bind_int64(st, k++, r->group_id);
	sqlite3_bind_text(st, k++, r->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, k++, r->subband);
	sqlite3_bind_double(st, k++, r->mjd);
	sqlite3_bind_double(st, k++, r->freq_hz);
	db_bind_real_or_null(st, k++, r->flux_jy);
	db_bind_real_or_null(st, k++, r->flux_err_jy);
	db_bind_real_or_null(st, k++, r->local_rms_jy);
	db_bind_real_or_null(st, k++, r->pb);
	sqlite3_bind_int64(st, k++, r->forced_flags);
	db_bind_real_or_null(st, k++, r->correction);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0
					    : sql_fail(db, err, errlen, "photometry_subband insert");
	sqlite3_finalize(st);
	return rc;
}

static int read_band(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	photdb_band_row *r = row;
	int k = 0;
	(void)arg;
	(void)err;
	(void)errlen;
	r->group_id = sqlite3_column_int64(st, k++);
	db_column_text(st, k++, r->source, sizeof r->source);
	r->subband = sqlite3_column_int(st, k++);
	r->mjd = db_column_real_or_nan(st, k++);
	r->freq_hz = db_column_real_or_nan(st, k++);
	r->flux_jy = db_column_real_or_nan(st, k++);
	r->flux_err_jy = db_column_real_or_nan(st, k++);
	r->local_rms_jy = db_column_real_or_nan(st, k++);
	r->pb = db_column_real_or_nan(st, k++);
	r->forced_flags = (unsigned)sqlite3_column_int64(st, k++);
	r->correction = db_column_real_or_nan(st, k++);
	return 1;
}

int photdb_band_lightcurve(sqlite3 *db, const char *source, photdb_band_row **ret,
			   size_t *ret_n, char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(photdb_band_row), read_band, NULL };
	sqlite3_stmt *st = NULL;
	void *rows = NULL;
	int rc = db_prepare(db, err, errlen, &st,
			    "SELECT group_id, source, subband, mjd, freq_hz, flux_jy, flux_err_jy, "
			    "local_rms_jy, pb, forced_flags, correction FROM photometry_subband "
			    "WHERE source = ? ORDER BY mjd, group_id, subband",
			    "s", source);
	if (rc < 0)
		return rc;
	rc = db_rows(st, &type, NULL, &rows, ret_n, "photometry_subband", err, errlen);
	if (rc == 0)
		*ret = rows;
	return rc;
}

int photdb_spindex_put(sqlite3 *db, const photdb_spindex *r, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO photometry_spindex (group_id, source, mjd, alpha, "
		"alpha_err, s0_jy, nu0_hz, chi2, npoints) VALUES (?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "photometry_spindex insert");
	sqlite3_bind_int64(st, k++, r->group_id);
	sqlite3_bind_text(st, k++, r->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, k++, r->mjd);
	db_bind_real_or_null(st, k++, r->alpha);
	db_bind_real_or_null(st, k++, r->alpha_err);
	db_bind_real_or_null(st, k++, r->s0_jy);
	db_bind_real_or_null(st, k++, r->nu0_hz);
	db_bind_real_or_null(st, k++, r->chi2);
	sqlite3_bind_int(st, k++, r->npoints);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0
					    : sql_fail(db, err, errlen, "photometry_spindex insert");
	sqlite3_finalize(st);
	return rc;
}

int photdb_spindex_get(sqlite3 *db, int64_t group_id, const char *source, photdb_spindex *ret,
		       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = db_prepare(db, err, errlen, &st,
			    "SELECT mjd, alpha, alpha_err, s0_jy, nu0_hz, chi2, npoints FROM "
			    "photometry_spindex WHERE group_id = ? AND source = ?",
			    "Is", group_id, source);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int k = 0;
		memset(ret, 0, sizeof *ret);
		ret->group_id = group_id;
		snprintf(ret->source, sizeof ret->source, "%s", source);
		ret->mjd = db_column_real_or_nan(st, k++);
		ret->alpha = db_column_real_or_nan(st, k++);
		ret->alpha_err = db_column_real_or_nan(st, k++);
		ret->s0_jy = db_column_real_or_nan(st, k++);
		ret->nu0_hz = db_column_real_or_nan(st, k++);
		ret->chi2 = db_column_real_or_nan(st, k++);
		ret->npoints = sqlite3_column_int(st, k++);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(err, errlen, -ENOENT, "no spectral index of %s in group %lld", source,
			     (long long)group_id);
	} else {
		rc = sql_fail(db, err, errlen, "photometry_spindex");
	}
	sqlite3_finalize(st);
	return rc;
}

int photdb_ese_band_put(sqlite3 *db, const photdb_ese_band *r, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO ese_subband (source, n, nsub, decisive, consistency, dchi2, "
		"chi2_chromatic, chi2_achromatic, lens_alpha, t0_mjd, t_days, ref_freq_hz, "
		"updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "ese_subband insert");
	sqlite3_bind_text(st, k++, r->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, k++, r->n);
	sqlite3_bind_int(st, k++, r->nsub);
	sqlite3_bind_int(st, k++, r->decisive);
	db_bind_real_or_null(st, k++, r->consistency);
	db_bind_real_or_null(st, k++, r->dchi2);
	db_bind_real_or_null(st, k++, r->chi2_chromatic);
	db_bind_real_or_null(st, k++, r->chi2_achromatic);
	db_bind_real_or_null(st, k++, r->lens_alpha);
	db_bind_real_or_null(st, k++, r->t0_mjd);
	db_bind_real_or_null(st, k++, r->t_days);
	db_bind_real_or_null(st, k++, r->ref_freq_hz);
	sqlite3_bind_double(st, k++, r->updated_at);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, errlen, "ese_subband insert");
	sqlite3_finalize(st);
	return rc;
}

int photdb_ese_band_get(sqlite3 *db, const char *source, photdb_ese_band *ret, char *err,
			size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = db_prepare(db, err, errlen, &st,
			    "SELECT n, nsub, decisive, consistency, dchi2, chi2_chromatic, "
			    "chi2_achromatic, lens_alpha, t0_mjd, t_days, ref_freq_hz, updated_at "
			    "FROM ese_subband WHERE source = ?",
			    "s", source);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int k = 0;
		memset(ret, 0, sizeof *ret);
		snprintf(ret->source, sizeof ret->source, "%s", source);
		ret->n = sqlite3_column_int(st, k++);
		ret->nsub = sqlite3_column_int(st, k++);
		ret->decisive = sqlite3_column_int(st, k++);
		ret->consistency = db_column_real_or_nan(st, k++);
		ret->dchi2 = db_column_real_or_nan(st, k++);
		ret->chi2_chromatic = db_column_real_or_nan(st, k++);
		ret->chi2_achromatic = db_column_real_or_nan(st, k++);
		ret->lens_alpha = db_column_real_or_nan(st, k++);
		ret->t0_mjd = db_column_real_or_nan(st, k++);
		ret->t_days = db_column_real_or_nan(st, k++);
		ret->ref_freq_hz = db_column_real_or_nan(st, k++);
		ret->updated_at = db_column_real_or_nan(st, k++);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(err, errlen, -ENOENT, "no sub-band lens fit of %s", source);
	} else {
		rc = sql_fail(db, err, errlen, "ese_subband");
	}
	sqlite3_finalize(st);
	return rc;
}
