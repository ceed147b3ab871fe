/*
 * state/photdb.c — photometry, variability, candidates, references (photdb.h).
 */
#include "state/photdb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "state/db.h"

static int sql_fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	return err_set(err, errlen, -EIO, "%s: %s", what, sqlite3_errmsg(db));
}

/* ---- photometry ---- */

#define ROW_COLS "group_id, source, mjd, ra_deg, dec_deg, flux_jy, flux_err_jy, " \
	"normalized_flux_jy, normalized_flux_err_jy, correction, correction_err, local_rms_jy, " \
	"pb, chi2, npix, forced_flags, norm_flags, calibrated, in_variability"

int photdb_put(sqlite3 *db, const photdb_row *r, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT INTO photometry (" ROW_COLS ") VALUES "
		"(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
		"ON CONFLICT (group_id, source) DO UPDATE SET mjd = excluded.mjd, "
		"ra_deg = excluded.ra_deg, dec_deg = excluded.dec_deg, flux_jy = excluded.flux_jy, "
		"flux_err_jy = excluded.flux_err_jy, normalized_flux_jy = excluded.normalized_flux_jy, "
		"normalized_flux_err_jy = excluded.normalized_flux_err_jy, "
		"correction = excluded.correction, correction_err = excluded.correction_err, "
		"local_rms_jy = excluded.local_rms_jy, pb = excluded.pb, chi2 = excluded.chi2, "
		"npix = excluded.npix, forced_flags = excluded.forced_flags, "
		"norm_flags = excluded.norm_flags, calibrated = excluded.calibrated, "
		"in_variability = excluded.in_variability";
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "photometry insert");
	int k = 1;
	sqlite3_bind_int64(st, k++, r->group_id);
	sqlite3_bind_text(st, k++, r->source, -1, SQLITE_TRANSIENT);
	db_bind_real_or_null(st, k++, r->mjd);
	db_bind_real_or_null(st, k++, r->ra_deg);
	db_bind_real_or_null(st, k++, r->dec_deg);
	db_bind_real_or_null(st, k++, r->flux_jy);
	db_bind_real_or_null(st, k++, r->flux_err_jy);
	db_bind_real_or_null(st, k++, r->normalized_flux_jy);
	db_bind_real_or_null(st, k++, r->normalized_flux_err_jy);
	db_bind_real_or_null(st, k++, r->correction);
	db_bind_real_or_null(st, k++, r->correction_err);
	db_bind_real_or_null(st, k++, r->local_rms_jy);
	db_bind_real_or_null(st, k++, r->pb);
	db_bind_real_or_null(st, k++, r->chi2);
	sqlite3_bind_int(st, k++, r->npix);
	sqlite3_bind_int64(st, k++, r->forced_flags);
	sqlite3_bind_int64(st, k++, r->norm_flags);
	sqlite3_bind_int(st, k++, r->calibrated);
	sqlite3_bind_int(st, k++, r->in_variability);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, errlen, "photometry insert");
	sqlite3_finalize(st);
	return rc;
}

static void read_row(sqlite3_stmt *st, photdb_row *r)
{
	int k = 0;
	memset(r, 0, sizeof *r);
	r->group_id = sqlite3_column_int64(st, k++);
	db_column_text(st, k++, r->source, sizeof r->source);
	r->mjd = db_column_real_or_nan(st, k++);
	r->ra_deg = db_column_real_or_nan(st, k++);
	r->dec_deg = db_column_real_or_nan(st, k++);
	r->flux_jy = db_column_real_or_nan(st, k++);
	r->flux_err_jy = db_column_real_or_nan(st, k++);
	r->normalized_flux_jy = db_column_real_or_nan(st, k++);
	r->normalized_flux_err_jy = db_column_real_or_nan(st, k++);
	r->correction = db_column_real_or_nan(st, k++);
	r->correction_err = db_column_real_or_nan(st, k++);
	r->local_rms_jy = db_column_real_or_nan(st, k++);
	r->pb = db_column_real_or_nan(st, k++);
	r->chi2 = db_column_real_or_nan(st, k++);
	r->npix = sqlite3_column_int(st, k++);
	r->forced_flags = (unsigned)sqlite3_column_int64(st, k++);
	r->norm_flags = (unsigned)sqlite3_column_int64(st, k++);
	r->calibrated = sqlite3_column_int(st, k++);
	r->in_variability = sqlite3_column_int(st, k++);
}

int photdb_get(sqlite3 *db, int64_t group_id, const char *source, photdb_row *ret,
	       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT " ROW_COLS " FROM photometry WHERE group_id = ? AND "
			       "source = ?", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "photometry query");
	sqlite3_bind_int64(st, 1, group_id);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_TRANSIENT);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		read_row(st, ret);
		rc = 0;
	} else if (s == SQLITE_DONE) {
		rc = err_set(err, errlen, -ENOENT, "no photometry of %s in group %lld", source,
			     (long long)group_id);
	} else {
		rc = sql_fail(db, err, errlen, "photometry query");
	}
	sqlite3_finalize(st);
	return rc;
}

static int read_lc_row(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	(void)arg, (void)err, (void)errlen;
	read_row(st, row);
	return 1;
}

int photdb_lightcurve(sqlite3 *db, const char *source, photdb_row **ret, size_t *ret_n,
		      char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(photdb_row), read_lc_row, NULL };
	sqlite3_stmt *st = NULL;
	void *rows = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT " ROW_COLS " FROM photometry WHERE source = ? "
			       "ORDER BY mjd, group_id", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "light curve query");
	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	rc = db_rows(st, &type, NULL, &rows, ret_n, "light curve query", err, errlen);
	if (rc == 0)
		*ret = rows;
	return rc;
}

void photdb_lc_release(photdb_lc *lc)
{
	if (!lc)
		return;
	free(lc->mjd);
	free(lc->flux);
	free(lc->err);
	memset(lc, 0, sizeof *lc);
}

/* One row of photdb_var_lightcurve's query, before it is split into the
 * three arrays of photdb_lc. */
typedef struct lc_point {
	double mjd, flux, err;
} lc_point;

static int read_lc_point(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	lc_point *p = row;

	(void)arg, (void)err, (void)errlen;
	p->mjd = db_column_real_or_nan(st, 0);
	p->flux = db_column_real_or_nan(st, 1);
	p->err = db_column_real_or_nan(st, 2);
	return 1;
}

int photdb_var_lightcurve(sqlite3 *db, const char *source, double since_mjd,
			  int64_t exclude_group, photdb_lc *ret, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT mjd, normalized_flux_jy, normalized_flux_err_jy FROM photometry "
		"WHERE source = ? AND in_variability = 1 AND mjd >= ? AND group_id <> ? "
		"ORDER BY mjd, group_id";
	static const char sql_all[] =
		"SELECT mjd, normalized_flux_jy, normalized_flux_err_jy FROM photometry "
		"WHERE source = ? AND in_variability = 1 AND group_id <> ? "
		"ORDER BY mjd, group_id";
	static const db_row_type type = { sizeof(lc_point), read_lc_point, NULL };
	sqlite3_stmt *st = NULL;
	photdb_lc lc = { 0 };
	void *v = NULL;
	lc_point *p;
	size_t n = 0;
	int rc, k = 1;
	int bounded = isfinite(since_mjd);

	if (sqlite3_prepare_v2(db, bounded ? sql : sql_all, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "light curve query");
	sqlite3_bind_text(st, k++, source, -1, SQLITE_TRANSIENT);
	if (bounded)
		sqlite3_bind_double(st, k++, since_mjd);
	sqlite3_bind_int64(st, k++, exclude_group);
	rc = db_rows(st, &type, NULL, &v, &n, "light curve query", err, errlen);
	if (rc < 0)
		return rc;
	p = v;
	if (n) {
		lc.mjd = malloc(n * sizeof *lc.mjd);
		lc.flux = malloc(n * sizeof *lc.flux);
		lc.err = malloc(n * sizeof *lc.err);
		if (!lc.mjd || !lc.flux || !lc.err) {
			rc = err_set(err, errlen, -ENOMEM, "light curve of %s: out of memory", source);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			lc.mjd[i] = p[i].mjd;
			lc.flux[i] = p[i].flux;
			lc.err[i] = p[i].err;
		}
		lc.n = n;
	}
	*ret = lc;
out:
	free(v);
	if (rc < 0)
		photdb_lc_release(&lc);
	return rc;
}

/* ---- variability_stats ---- */

int photdb_var_put(sqlite3 *db, const photdb_var *v, const void *state, size_t state_len,
		   char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT INTO variability_stats (source, n, mean, std, min, max, wmean, chi2_nu, eta, "
		"v, sigma_deviation, vs, m, first_mjd, last_mjd, ese_score, state, updated_at) "
		"VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (source) DO UPDATE SET "
		"n = excluded.n, mean = excluded.mean, std = excluded.std, min = excluded.min, "
		"max = excluded.max, wmean = excluded.wmean, chi2_nu = excluded.chi2_nu, "
		"eta = excluded.eta, v = excluded.v, sigma_deviation = excluded.sigma_deviation, "
		"vs = excluded.vs, m = excluded.m, first_mjd = excluded.first_mjd, "
		"last_mjd = excluded.last_mjd, ese_score = excluded.ese_score, "
		"state = excluded.state, updated_at = excluded.updated_at";
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "variability_stats upsert");
	sqlite3_bind_text(st, k++, v->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, k++, v->n);
	db_bind_real_or_null(st, k++, v->mean);
	db_bind_real_or_null(st, k++, v->std);
	db_bind_real_or_null(st, k++, v->min);
	db_bind_real_or_null(st, k++, v->max);
	db_bind_real_or_null(st, k++, v->wmean);
	db_bind_real_or_null(st, k++, v->chi2_nu);
	db_bind_real_or_null(st, k++, v->eta);
	db_bind_real_or_null(st, k++, v->v);
	db_bind_real_or_null(st, k++, v->sigma_deviation);
	db_bind_real_or_null(st, k++, v->vs);
	db_bind_real_or_null(st, k++, v->m);
	db_bind_real_or_null(st, k++, v->first_mjd);
	db_bind_real_or_null(st, k++, v->last_mjd);
	db_bind_real_or_null(st, k++, v->ese_score);
	sqlite3_bind_blob(st, k++, state, (int)state_len, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, k++, clk_wall_s());
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, errlen, "variability_stats upsert");
	sqlite3_finalize(st);
	return rc;
}

int photdb_var_get(sqlite3 *db, const char *source, photdb_var *ret, void *state_buf,
		   size_t state_len, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, k = 0;
	if (sqlite3_prepare_v2(db, "SELECT source, n, mean, std, min, max, wmean, chi2_nu, eta, v, "
			       "sigma_deviation, vs, m, first_mjd, last_mjd, ese_score, updated_at, "
			       "state FROM variability_stats WHERE source = ?", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "variability_stats query");
	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	int s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		rc = err_set(err, errlen, -ENOENT, "no variability statistics for %s", source);
		goto out;
	}
	if (s != SQLITE_ROW) {
		rc = sql_fail(db, err, errlen, "variability_stats query");
		goto out;
	}
	if (ret) {
		memset(ret, 0, sizeof *ret);
		db_column_text(st, k++, ret->source, sizeof ret->source);
		ret->n = (long)sqlite3_column_int64(st, k++);
		ret->mean = db_column_real_or_nan(st, k++);
		ret->std = db_column_real_or_nan(st, k++);
		ret->min = db_column_real_or_nan(st, k++);
		ret->max = db_column_real_or_nan(st, k++);
		ret->wmean = db_column_real_or_nan(st, k++);
		ret->chi2_nu = db_column_real_or_nan(st, k++);
		ret->eta = db_column_real_or_nan(st, k++);
		ret->v = db_column_real_or_nan(st, k++);
		ret->sigma_deviation = db_column_real_or_nan(st, k++);
		ret->vs = db_column_real_or_nan(st, k++);
		ret->m = db_column_real_or_nan(st, k++);
		ret->first_mjd = db_column_real_or_nan(st, k++);
		ret->last_mjd = db_column_real_or_nan(st, k++);
		ret->ese_score = db_column_real_or_nan(st, k++);
		ret->updated_at = db_column_real_or_nan(st, k++);
	}
	if (state_buf) {
		const void *b = sqlite3_column_blob(st, 17);
		if ((size_t)sqlite3_column_bytes(st, 17) != state_len || !b) {
			rc = err_set(err, errlen, -EPROTO, "variability state of %s has %d bytes, "
				     "expected %zu", source, sqlite3_column_bytes(st, 17), state_len);
			goto out;
		}
		memcpy(state_buf, b, state_len);
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* ---- ese_candidates ---- */

#define CAND_AUTO_SET "score = excluded.score, n = excluded.n, chi2_nu = excluded.chi2_nu, " \
	"eta = excluded.eta, v = excluded.v, amplitude = excluded.amplitude, " \
	"timescale_days = excluded.timescale_days, asymmetry = excluded.asymmetry, " \
	"f0 = excluded.f0, t0_mjd = excluded.t0_mjd, t_days = excluded.t_days, " \
	"alpha = excluded.alpha, src_size = excluded.src_size, updated_at = excluded.updated_at"

static void bind_int_or_null(sqlite3_stmt *st, int i, int v)
{
	if (v >= 0)
		sqlite3_bind_int(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s && *s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* The columns of the "alerts:" migration, on the row cand_write just wrote:
 * the fit's details and the vetting context.  An upsert (the score reached
 * the threshold) also sets the first crossing when the row has none. */
static int cand_write_more(sqlite3 *db, const photdb_cand *c, int insert, double now,
			   char *err, size_t errlen)
{
	static const char sql[] =
		"UPDATE ese_candidates SET ongoing = ?2, best_alt = ?3, alt_evidence = ?4, "
		"dbic = ?5, duration_days = ?6, lensed_fraction = ?7, n_event = ?8, "
		"n_ingress = ?9, n_egress = ?10, n_base = ?11, s_evid = ?12, s_depth = ?13, "
		"s_time = ?14, s_epochs = ?15, s_sig = ?16, s_quiet = ?17, last_mjd = ?18, "
		"ra_deg = ?19, dec_deg = ?20, pb = ?21, cat_flux_mjy = ?22, cat_resolved = ?23, "
		"cat_confused = ?24, cat_major_arcsec = ?25, bright_source = ?26, "
		"bright_sep_deg = ?27, bright_flux_mjy = ?28, "
		"first_crossed_mjd = CASE WHEN ?29 AND first_crossed_mjd IS NULL THEN ?18 "
		"ELSE first_crossed_mjd END, "
		"first_crossed_at = CASE WHEN ?29 AND first_crossed_at IS NULL THEN ?30 "
		"ELSE first_crossed_at END WHERE source = ?1";
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "ese_candidates write");
	sqlite3_bind_text(st, k++, c->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, k++, c->ongoing != 0);
	bind_text_or_null(st, k++, c->best_alt);
	db_bind_real_or_null(st, k++, c->alt_evidence);
	db_bind_real_or_null(st, k++, c->dbic);
	db_bind_real_or_null(st, k++, c->duration_days);
	db_bind_real_or_null(st, k++, c->lensed_fraction);
	bind_int_or_null(st, k++, c->n_event);
	bind_int_or_null(st, k++, c->n_ingress);
	bind_int_or_null(st, k++, c->n_egress);
	bind_int_or_null(st, k++, c->n_base);
	db_bind_real_or_null(st, k++, c->s_evid);
	db_bind_real_or_null(st, k++, c->s_depth);
	db_bind_real_or_null(st, k++, c->s_time);
	db_bind_real_or_null(st, k++, c->s_epochs);
	db_bind_real_or_null(st, k++, c->s_sig);
	db_bind_real_or_null(st, k++, c->s_quiet);
	db_bind_real_or_null(st, k++, c->last_mjd);
	db_bind_real_or_null(st, k++, c->ra_deg);
	db_bind_real_or_null(st, k++, c->dec_deg);
	db_bind_real_or_null(st, k++, c->pb);
	db_bind_real_or_null(st, k++, c->cat_flux_mjy);
	bind_int_or_null(st, k++, c->cat_resolved);
	bind_int_or_null(st, k++, c->cat_confused);
	db_bind_real_or_null(st, k++, c->cat_major_arcsec);
	bind_text_or_null(st, k++, c->bright_source);
	db_bind_real_or_null(st, k++, c->bright_sep_deg);
	db_bind_real_or_null(st, k++, c->bright_flux_mjy);
	sqlite3_bind_int(st, k++, insert != 0);
	sqlite3_bind_double(st, k++, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, errlen, "ese_candidates write");
	sqlite3_finalize(st);
	return rc;
}

static int cand_write(sqlite3 *db, const photdb_cand *c, int insert, char *err, size_t errlen)
{
	/* status, note and decided_at are deliberately absent from the update:
	 * a human decision survives every automatic re-scoring. */
	static const char sql_upsert[] =
		"INSERT INTO ese_candidates (source, score, n, chi2_nu, eta, v, amplitude, "
		"timescale_days, asymmetry, f0, t0_mjd, t_days, alpha, src_size, created_at, "
		"updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
		"ON CONFLICT (source) DO UPDATE SET " CAND_AUTO_SET;
	static const char sql_refresh[] =
		"UPDATE ese_candidates SET score = ?2, n = ?3, chi2_nu = ?4, eta = ?5, v = ?6, "
		"amplitude = ?7, timescale_days = ?8, asymmetry = ?9, f0 = ?10, t0_mjd = ?11, "
		"t_days = ?12, alpha = ?13, src_size = ?14, updated_at = ?16 WHERE source = ?1";
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	double now = clk_wall_s();
	if (sqlite3_prepare_v2(db, insert ? sql_upsert : sql_refresh, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "ese_candidates write");
	sqlite3_bind_text(st, k++, c->source, -1, SQLITE_TRANSIENT);
	db_bind_real_or_null(st, k++, isfinite(c->score) ? c->score : 0);
	sqlite3_bind_int64(st, k++, c->n);
	db_bind_real_or_null(st, k++, c->chi2_nu);
	db_bind_real_or_null(st, k++, c->eta);
	db_bind_real_or_null(st, k++, c->v);
	db_bind_real_or_null(st, k++, c->amplitude);
	db_bind_real_or_null(st, k++, c->timescale_days);
	db_bind_real_or_null(st, k++, c->asymmetry);
	db_bind_real_or_null(st, k++, c->f0);
	db_bind_real_or_null(st, k++, c->t0_mjd);
	db_bind_real_or_null(st, k++, c->t_days);
	db_bind_real_or_null(st, k++, c->alpha);
	db_bind_real_or_null(st, k++, c->src_size);
	sqlite3_bind_double(st, k++, now);
	sqlite3_bind_double(st, k++, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, errlen, "ese_candidates write");
	sqlite3_finalize(st);
	if (rc == 0)
		rc = cand_write_more(db, c, insert, now, err, errlen);
	return rc;
}

int photdb_cand_upsert(sqlite3 *db, const photdb_cand *c, char *err, size_t errlen)
{
	return cand_write(db, c, 1, err, errlen);
}

int photdb_cand_refresh(sqlite3 *db, const photdb_cand *c, char *err, size_t errlen)
{
	return cand_write(db, c, 0, err, errlen);
}

#define CAND_COLS "source, score, status, note, decided_at, n, chi2_nu, eta, v, amplitude, " \
	"timescale_days, asymmetry, f0, t0_mjd, t_days, alpha, src_size, created_at, updated_at, " \
	CAND_MORE_COLS
#define CAND_MORE_COLS "ongoing, best_alt, alt_evidence, dbic, duration_days, " \
	"lensed_fraction, n_event, n_ingress, n_egress, n_base, s_evid, s_depth, s_time, " \
	"s_epochs, s_sig, s_quiet, last_mjd, first_crossed_mjd, first_crossed_at, ra_deg, " \
	"dec_deg, pb, cat_flux_mjy, cat_resolved, cat_confused, cat_major_arcsec, " \
	"bright_source, bright_sep_deg, bright_flux_mjy"

static int column_int_or(sqlite3_stmt *st, int i, int dflt)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? dflt : sqlite3_column_int(st, i);
}

/* The CAND_MORE_COLS from column k on. */
static void read_cand_more(sqlite3_stmt *st, int k, photdb_cand *c)
{
	c->ongoing = column_int_or(st, k++, 0);
	db_column_text(st, k++, c->best_alt, sizeof c->best_alt);
	c->alt_evidence = db_column_real_or_nan(st, k++);
	c->dbic = db_column_real_or_nan(st, k++);
	c->duration_days = db_column_real_or_nan(st, k++);
	c->lensed_fraction = db_column_real_or_nan(st, k++);
	c->n_event = column_int_or(st, k++, -1);
	c->n_ingress = column_int_or(st, k++, -1);
	c->n_egress = column_int_or(st, k++, -1);
	c->n_base = column_int_or(st, k++, -1);
	c->s_evid = db_column_real_or_nan(st, k++);
	c->s_depth = db_column_real_or_nan(st, k++);
	c->s_time = db_column_real_or_nan(st, k++);
	c->s_epochs = db_column_real_or_nan(st, k++);
	c->s_sig = db_column_real_or_nan(st, k++);
	c->s_quiet = db_column_real_or_nan(st, k++);
	c->last_mjd = db_column_real_or_nan(st, k++);
	c->first_crossed_mjd = db_column_real_or_nan(st, k++);
	c->first_crossed_at = db_column_real_or_nan(st, k++);
	c->ra_deg = db_column_real_or_nan(st, k++);
	c->dec_deg = db_column_real_or_nan(st, k++);
	c->pb = db_column_real_or_nan(st, k++);
	c->cat_flux_mjy = db_column_real_or_nan(st, k++);
	c->cat_resolved = column_int_or(st, k++, -1);
	c->cat_confused = column_int_or(st, k++, -1);
	c->cat_major_arcsec = db_column_real_or_nan(st, k++);
	db_column_text(st, k++, c->bright_source, sizeof c->bright_source);
	c->bright_sep_deg = db_column_real_or_nan(st, k++);
	c->bright_flux_mjy = db_column_real_or_nan(st, k++);
}

static void read_cand(sqlite3_stmt *st, photdb_cand *c)
{
	int k = 0;
	memset(c, 0, sizeof *c);
	db_column_text(st, k++, c->source, sizeof c->source);
	c->score = db_column_real_or_nan(st, k++);
	db_column_text(st, k++, c->status, sizeof c->status);
	db_column_text(st, k++, c->note, sizeof c->note);
	c->decided_at = db_column_real_or_nan(st, k++);
	c->n = (long)sqlite3_column_int64(st, k++);
	c->chi2_nu = db_column_real_or_nan(st, k++);
	c->eta = db_column_real_or_nan(st, k++);
	c->v = db_column_real_or_nan(st, k++);
	c->amplitude = db_column_real_or_nan(st, k++);
	c->timescale_days = db_column_real_or_nan(st, k++);
	c->asymmetry = db_column_real_or_nan(st, k++);
	c->f0 = db_column_real_or_nan(st, k++);
	c->t0_mjd = db_column_real_or_nan(st, k++);
	c->t_days = db_column_real_or_nan(st, k++);
	c->alpha = db_column_real_or_nan(st, k++);
	c->src_size = db_column_real_or_nan(st, k++);
	c->created_at = db_column_real_or_nan(st, k++);
	c->updated_at = db_column_real_or_nan(st, k++);
	read_cand_more(st, k, c);
}

static int read_cand_row(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	(void)arg, (void)err, (void)errlen;
	read_cand(st, row);
	return 1;
}

int photdb_cand_list(sqlite3 *db, photdb_cand **ret, size_t *ret_n, char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(photdb_cand), read_cand_row, NULL };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT " CAND_COLS " FROM ese_candidates ORDER BY score DESC, "
			       "source", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "ese_candidates query");
	rc = db_rows(st, &type, NULL, &v, ret_n, "ese_candidates query", err, errlen);
	if (rc == 0)
		*ret = v;
	return rc;
}

int photdb_cand_get(sqlite3 *db, const char *source, photdb_cand *ret, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT " CAND_COLS " FROM ese_candidates WHERE source = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "ese_candidates query");
	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		read_cand(st, ret);
		rc = 0;
	} else if (s == SQLITE_DONE) {
		rc = err_set(err, errlen, -ENOENT, "%s is not an ESE candidate", source);
	} else {
		rc = sql_fail(db, err, errlen, "ese_candidates query");
	}
	sqlite3_finalize(st);
	return rc;
}

int photdb_cand_decide(sqlite3 *db, const char *source, const char *status, const char *note,
		       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (!status || (strcmp(status, "investigated") && strcmp(status, "dismissed")))
		return err_set(err, errlen, -EINVAL, "status must be investigated or dismissed");
	if (sqlite3_prepare_v2(db, "UPDATE ese_candidates SET status = ?, note = COALESCE(?, note), "
			       "decided_at = ? WHERE source = ?", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "ese_candidates update");
	sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
	if (note)
		sqlite3_bind_text(st, 2, note, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_double(st, 3, clk_wall_s());
	sqlite3_bind_text(st, 4, source, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sql_fail(db, err, errlen, "ese_candidates update");
	else if (sqlite3_changes(db) == 0)
		rc = err_set(err, errlen, -ENOENT, "%s is not an ESE candidate", source);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

/* ---- reference_sources ---- */

int photdb_ref_get(sqlite3 *db, const char *source, photdb_ref *ret, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(db, "SELECT source, snr, nbase, base_flux, baseline, retired, "
			       "retired_mjd, retire_chi2_nu FROM reference_sources WHERE source = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "reference_sources query");
	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	int s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		rc = err_set(err, errlen, -ENOENT, "%s is not a reference source", source);
	} else if (s != SQLITE_ROW) {
		rc = sql_fail(db, err, errlen, "reference_sources query");
	} else {
		memset(ret, 0, sizeof *ret);
		db_column_text(st, 0, ret->source, sizeof ret->source);
		ret->snr = db_column_real_or_nan(st, 1);
		ret->nbase = sqlite3_column_int(st, 2);
		int bytes = sqlite3_column_bytes(st, 3);
		const void *b = sqlite3_column_blob(st, 3);
		if (ret->nbase < 0 || ret->nbase > PHOTDB_MAX_BASE ||
		    (size_t)bytes != ret->nbase * sizeof(double) || (ret->nbase && !b)) {
			rc = err_set(err, errlen, -EPROTO, "reference %s: corrupt baseline", source);
		} else {
			if (ret->nbase)
				memcpy(ret->base_flux, b, bytes);
			ret->baseline = db_column_real_or_nan(st, 4);
			ret->retired = sqlite3_column_int(st, 5);
			ret->retired_mjd = db_column_real_or_nan(st, 6);
			ret->retire_chi2_nu = db_column_real_or_nan(st, 7);
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int photdb_ref_put(sqlite3 *db, const photdb_ref *r, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (r->nbase < 0 || r->nbase > PHOTDB_MAX_BASE)
		return err_set(err, errlen, -EINVAL, "reference %s: nbase %d", r->source, r->nbase);
	if (sqlite3_prepare_v2(db, "INSERT INTO reference_sources (source, snr, nbase, base_flux, "
			       "baseline, retired, retired_mjd, retire_chi2_nu, updated_at) VALUES "
			       "(?,?,?,?,?,?,?,?,?) ON CONFLICT (source) DO UPDATE SET "
			       "snr = excluded.snr, nbase = excluded.nbase, "
			       "base_flux = excluded.base_flux, baseline = excluded.baseline, "
			       "retired = excluded.retired, retired_mjd = excluded.retired_mjd, "
			       "retire_chi2_nu = excluded.retire_chi2_nu, "
			       "updated_at = excluded.updated_at", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "reference_sources upsert");
	sqlite3_bind_text(st, 1, r->source, -1, SQLITE_TRANSIENT);
	db_bind_real_or_null(st, 2, r->snr);
	sqlite3_bind_int(st, 3, r->nbase);
	sqlite3_bind_blob(st, 4, r->base_flux, (int)(r->nbase * sizeof(double)), SQLITE_TRANSIENT);
	db_bind_real_or_null(st, 5, r->baseline);
	sqlite3_bind_int(st, 6, r->retired);
	db_bind_real_or_null(st, 7, r->retired_mjd);
	db_bind_real_or_null(st, 8, r->retire_chi2_nu);
	sqlite3_bind_double(st, 9, clk_wall_s());
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, errlen, "reference_sources upsert");
	sqlite3_finalize(st);
	return rc;
}

/* ---- epochs: baselines from the rows, provisional groups, quality (issue 17) ---- */

int photdb_ref_base(sqlite3 *db, const char *source, int64_t exclude_group, unsigned forced_bad,
		    unsigned norm_bad, int limit, double *ret_mjd, double *ret_flux, int *ret_n,
		    char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT mjd, flux_jy FROM photometry WHERE source = ? AND calibrated = 1 "
		"AND group_id <> ? AND (forced_flags & ?) = 0 AND (norm_flags & ?) = 0 "
		"AND flux_jy IS NOT NULL ORDER BY mjd, group_id LIMIT ?";
	sqlite3_stmt *st = NULL;
	int n = 0, s, rc = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "baseline query");
	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, exclude_group);
	sqlite3_bind_int64(st, 3, forced_bad);
	sqlite3_bind_int64(st, 4, norm_bad);
	sqlite3_bind_int(st, 5, limit);
	while ((s = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		ret_mjd[n] = sqlite3_column_double(st, 0);
		ret_flux[n] = sqlite3_column_double(st, 1);
		n++;
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		rc = sql_fail(db, err, errlen, "baseline query");
	sqlite3_finalize(st);
	if (rc == 0)
		*ret_n = n;
	return rc;
}

int photdb_provisional_groups(sqlite3 *db, const char *source, int64_t exclude_group,
			      unsigned norm_prov, unsigned norm_bad, int64_t **ret, size_t *ret_n,
			      char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT group_id FROM photometry WHERE source = ? AND calibrated = 1 "
		"AND group_id <> ? AND (norm_flags & ?) <> 0 AND (norm_flags & ?) = 0 "
		"ORDER BY mjd, group_id";
	sqlite3_stmt *st = NULL;
	int64_t *v = NULL;
	size_t n = 0, cap = 0;
	int s, rc = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "provisional query");
	sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, exclude_group);
	sqlite3_bind_int64(st, 3, norm_prov);
	sqlite3_bind_int64(st, 4, norm_bad);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			int64_t *t = realloc(v, nc * sizeof *v);
			if (!t) {
				rc = err_set(err, errlen, -ENOMEM, "provisional query: out of memory");
				goto out;
			}
			v = t;
			cap = nc;
		}
		v[n++] = sqlite3_column_int64(st, 0);
	}
	if (s != SQLITE_DONE)
		rc = sql_fail(db, err, errlen, "provisional query");
out:
	sqlite3_finalize(st);
	if (rc) {
		free(v);
		return rc;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int photdb_group_rows(sqlite3 *db, int64_t group_id, photdb_row **ret, size_t *ret_n,
		      char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(photdb_row), read_lc_row, NULL };
	sqlite3_stmt *st = NULL;
	void *rows = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT " ROW_COLS " FROM photometry WHERE group_id = ? "
			       "ORDER BY source", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "group rows query");
	sqlite3_bind_int64(st, 1, group_id);
	rc = db_rows(st, &type, NULL, &rows, ret_n, "group rows query", err, errlen);
	if (rc == 0)
		*ret = rows;
	return rc;
}

#define QUAL_COLS "group_id, mjd, noise_jy, noise_ratio, dynamic_range, correction, " \
	"correction_z, clipped_frac, flagged_frac, nref, flags, expected_noise_jy, " \
	"radiometer_ratio"

int photdb_quality_put(sqlite3 *db, const photdb_quality *q, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO epoch_quality (" QUAL_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	int rc, k = 1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "epoch quality insert");
	sqlite3_bind_int64(st, k++, q->group_id);
	db_bind_real_or_null(st, k++, q->mjd);
	db_bind_real_or_null(st, k++, q->noise_jy);
	db_bind_real_or_null(st, k++, q->noise_ratio);
	db_bind_real_or_null(st, k++, q->dynamic_range);
	db_bind_real_or_null(st, k++, q->correction);
	db_bind_real_or_null(st, k++, q->correction_z);
	db_bind_real_or_null(st, k++, q->clipped_frac);
	db_bind_real_or_null(st, k++, q->flagged_frac);
	sqlite3_bind_int(st, k++, q->nref);
	sqlite3_bind_int64(st, k++, q->flags);
	db_bind_real_or_null(st, k++, q->expected_noise_jy);
	db_bind_real_or_null(st, k++, q->radiometer_ratio);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, errlen, "epoch quality insert");
	sqlite3_finalize(st);
	return rc;
}

/* The QUAL_COLS of the current row, from column 0, into *q. */
static void read_quality(sqlite3_stmt *st, photdb_quality *q)
{
	int k = 0;
	memset(q, 0, sizeof *q);
	q->group_id = sqlite3_column_int64(st, k++);
	q->mjd = db_column_real_or_nan(st, k++);
	q->noise_jy = db_column_real_or_nan(st, k++);
	q->noise_ratio = db_column_real_or_nan(st, k++);
	q->dynamic_range = db_column_real_or_nan(st, k++);
	q->correction = db_column_real_or_nan(st, k++);
	q->correction_z = db_column_real_or_nan(st, k++);
	q->clipped_frac = db_column_real_or_nan(st, k++);
	q->flagged_frac = db_column_real_or_nan(st, k++);
	q->nref = sqlite3_column_int(st, k++);
	q->flags = (unsigned)sqlite3_column_int64(st, k++);
	q->expected_noise_jy = db_column_real_or_nan(st, k++);
	q->radiometer_ratio = db_column_real_or_nan(st, k++);
}

int photdb_quality_get(sqlite3 *db, int64_t group_id, photdb_quality *ret, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT " QUAL_COLS " FROM epoch_quality WHERE group_id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "epoch quality query");
	sqlite3_bind_int64(st, 1, group_id);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		read_quality(st, ret);
		rc = 0;
	} else if (s == SQLITE_DONE) {
		rc = err_set(err, errlen, -ENOENT, "no epoch quality for group %lld",
			     (long long)group_id);
	} else {
		rc = sql_fail(db, err, errlen, "epoch quality query");
	}
	sqlite3_finalize(st);
	return rc;
}

static int read_quality_entry(sqlite3_stmt *st, void *row, void *arg, char *err,
			      size_t errlen)
{
	photdb_quality_entry *e = row;
	(void)arg, (void)err, (void)errlen;
	read_quality(st, &e->q);
	db_column_text(st, 13, e->group, sizeof e->group);
	return 1;
}

int photdb_quality_list(sqlite3 *db, double since_mjd, unsigned any_flags, int limit,
			photdb_quality_entry **ret, size_t *ret_n, char *err, size_t errlen)
{
	/* QUAL_COLS (read_quality's order) and the group's name; a negative
	 * LIMIT is SQLite's "no limit". */
	static const char sql[] =
		"SELECT " QUAL_COLS ", (SELECT name FROM groups "
		"WHERE groups.id = epoch_quality.group_id) FROM epoch_quality "
		"WHERE mjd >= ? AND (? = 0 OR (flags & ?) <> 0) "
		"ORDER BY mjd DESC, group_id DESC LIMIT ?";
	static const db_row_type type = { sizeof(photdb_quality_entry), read_quality_entry,
					  NULL };
	sqlite3_stmt *st = NULL;
	void *rows = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "epoch quality list");
	/* NAN (and -INFINITY) mean "all": SQLite would bind NAN as NULL and
	 * match nothing. */
	sqlite3_bind_double(st, 1, isfinite(since_mjd) || since_mjd > 0 ? since_mjd : -1e300);
	sqlite3_bind_int64(st, 2, any_flags);
	sqlite3_bind_int64(st, 3, any_flags);
	sqlite3_bind_int(st, 4, limit > 0 ? limit : -1);
	rc = db_rows(st, &type, NULL, &rows, ret_n, "epoch quality list", err, errlen);
	if (rc == 0)
		*ret = rows;
	return rc;
}

int photdb_quality_recent(sqlite3 *db, double before_mjd, int64_t exclude_group, int limit,
			  double *ret_noise, double *ret_corr, int *ret_n, char *err,
			  size_t errlen)
{
	static const char sql[] =
		"SELECT noise_jy, correction FROM epoch_quality WHERE flags = 0 AND mjd < ? "
		"AND group_id <> ? ORDER BY mjd DESC, group_id DESC LIMIT ?";
	sqlite3_stmt *st = NULL;
	int n = 0, s, rc = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, "epoch quality query");
	sqlite3_bind_double(st, 1, before_mjd);
	sqlite3_bind_int64(st, 2, exclude_group);
	sqlite3_bind_int(st, 3, limit);
	while ((s = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		ret_noise[n] = db_column_real_or_nan(st, 0);
		ret_corr[n] = db_column_real_or_nan(st, 1);
		n++;
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		rc = sql_fail(db, err, errlen, "epoch quality query");
	sqlite3_finalize(st);
	if (rc == 0)
		*ret_n = n;
	return rc;
}
