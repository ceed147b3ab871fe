/*
 * state/photdb_band.c — sub-band photometry tables (see photdb_band.h).
 */
#include "state/photdb_band.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"

/* One column of a table and the struct field it holds.  The column is named
 * as the field.  Types: 'I' int64_t, 'i' int, 'u' unsigned (stored as an
 * integer), 's' char[] text, 'd' double bound as it is, 'r' double with NAN
 * stored as NULL; a NULL real reads back as NAN. */
typedef struct column {
	const char *name;
	char type;
	size_t off, len;
} column;

#define COL(T, type, field) { #field, type, offsetof(T, field), sizeof(((T *)0)->field) }

/* A table as its put writes and its get reads it: one list of columns, so
 * that the two cannot drift apart. */
typedef struct table {
	const char *name;
	const column *cols;
	int ncols;
} table;

static const column band_cols[] = {
	COL(photdb_band_row, 'I', group_id),   COL(photdb_band_row, 's', source),
	COL(photdb_band_row, 'i', subband),    COL(photdb_band_row, 'd', mjd),
	COL(photdb_band_row, 'd', freq_hz),    COL(photdb_band_row, 'r', flux_jy),
	COL(photdb_band_row, 'r', flux_err_jy), COL(photdb_band_row, 'r', local_rms_jy),
	COL(photdb_band_row, 'r', pb),         COL(photdb_band_row, 'u', forced_flags),
	COL(photdb_band_row, 'r', correction),
};
static const table band_table = { "photometry_subband", band_cols,
				  sizeof band_cols / sizeof band_cols[0] };

static const column spindex_cols[] = {
	COL(photdb_spindex, 'I', group_id), COL(photdb_spindex, 's', source),
	COL(photdb_spindex, 'd', mjd),      COL(photdb_spindex, 'r', alpha),
	COL(photdb_spindex, 'r', alpha_err), COL(photdb_spindex, 'r', s0_jy),
	COL(photdb_spindex, 'r', nu0_hz),   COL(photdb_spindex, 'r', chi2),
	COL(photdb_spindex, 'i', npoints),
};
static const table spindex_table = { "photometry_spindex", spindex_cols,
				     sizeof spindex_cols / sizeof spindex_cols[0] };

static const column ese_band_cols[] = {
	COL(photdb_ese_band, 's', source),          COL(photdb_ese_band, 'i', n),
	COL(photdb_ese_band, 'i', nsub),            COL(photdb_ese_band, 'i', decisive),
	COL(photdb_ese_band, 'r', consistency),     COL(photdb_ese_band, 'r', dchi2),
	COL(photdb_ese_band, 'r', chi2_chromatic),  COL(photdb_ese_band, 'r', chi2_achromatic),
	COL(photdb_ese_band, 'r', lens_alpha),      COL(photdb_ese_band, 'r', t0_mjd),
	COL(photdb_ese_band, 'r', t_days),          COL(photdb_ese_band, 'r', ref_freq_hz),
	COL(photdb_ese_band, 'd', updated_at),
};
static const table ese_band_table = { "ese_subband", ese_band_cols,
				      sizeof ese_band_cols / sizeof ese_band_cols[0] };

static int sql_fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	return err_set(err, errlen, -EIO, "%s: %s", what, sqlite3_errmsg(db));
}

/* "a, b, c" of t's columns appended to buf at *k; 0, -ENAMETOOLONG. */
static int append_columns(const table *t, char *buf, size_t len, size_t *k)
{
	for (int i = 0; i < t->ncols; i++) {
		int n = snprintf(buf + *k, len - *k, "%s%s", i ? ", " : "", t->cols[i].name);
		if (n < 0 || (size_t)n >= len - *k)
			return -ENAMETOOLONG;
		*k += (size_t)n;
	}
	return 0;
}

/* "SELECT <columns> FROM <table> <rest>" into buf. */
static int select_sql(const table *t, const char *rest, char *buf, size_t len, char *err,
		      size_t errlen)
{
	size_t k = (size_t)snprintf(buf, len, "SELECT ");
	int n;

	if (append_columns(t, buf, len, &k) < 0 ||
	    (n = snprintf(buf + k, len - k, " FROM %s %s", t->name, rest)) < 0 ||
	    (size_t)n >= len - k)
		return err_set(err, errlen, -ENAMETOOLONG, "%s: query too long", t->name);
	return 0;
}

/* INSERT OR REPLACE row (a struct of t's columns) into t. */
static int put_row(sqlite3 *db, const table *t, const void *row, char *err, size_t errlen)
{
	char sql[1024], what[64];
	size_t k = (size_t)snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s (", t->name);
	sqlite3_stmt *st = NULL;
	int rc;

	snprintf(what, sizeof what, "%s insert", t->name);
	if (append_columns(t, sql, sizeof sql, &k) < 0 || k + 10 + 2 * (size_t)t->ncols > sizeof sql)
		return err_set(err, errlen, -ENAMETOOLONG, "%s: statement too long", what);
	k += (size_t)snprintf(sql + k, sizeof sql - k, ") VALUES (");
	for (int i = 0; i < t->ncols; i++)
		k += (size_t)snprintf(sql + k, sizeof sql - k, i ? ",?" : "?");
	snprintf(sql + k, sizeof sql - k, ")");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, errlen, what);
	for (int i = 0; i < t->ncols; i++) {
		const column *c = &t->cols[i];
		const char *p = (const char *)row + c->off;
		switch (c->type) {
		case 'I': sqlite3_bind_int64(st, i + 1, *(const int64_t *)p); break;
		case 'i': sqlite3_bind_int(st, i + 1, *(const int *)p); break;
		case 'u': sqlite3_bind_int64(st, i + 1, *(const unsigned *)p); break;
		case 's': sqlite3_bind_text(st, i + 1, p, -1, SQLITE_TRANSIENT); break;
		case 'd': sqlite3_bind_double(st, i + 1, *(const double *)p); break;
		case 'r': db_bind_real_or_null(st, i + 1, *(const double *)p); break;
		}
	}
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, errlen, what);
	sqlite3_finalize(st);
	return rc;
}

/* The current result row of a select_sql statement into row. */
static void read_row(sqlite3_stmt *st, const table *t, void *row)
{
	for (int i = 0; i < t->ncols; i++) {
		const column *c = &t->cols[i];
		char *p = (char *)row + c->off;
		switch (c->type) {
		case 'I': *(int64_t *)p = sqlite3_column_int64(st, i); break;
		case 'i': *(int *)p = sqlite3_column_int(st, i); break;
		case 'u': *(unsigned *)p = (unsigned)sqlite3_column_int64(st, i); break;
		case 's': db_column_text(st, i, p, c->len); break;
		case 'd':
		case 'r': *(double *)p = db_column_real_or_nan(st, i); break;
		}
	}
}

/* Step st (a select_sql statement of t) once and finalize it: 1 with the row
 * in *ret (zeroed first), 0 when there is none (ret untouched), -EIO. */
static int get_row(sqlite3 *db, const table *t, sqlite3_stmt *st, void *ret, size_t size,
		   char *err, size_t errlen)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		memset(ret, 0, size);
		read_row(st, t, ret);
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = sql_fail(db, err, errlen, t->name);
	}
	sqlite3_finalize(st);
	return rc;
}

int photdb_band_put(sqlite3 *db, const photdb_band_row *r, char *err, size_t errlen)
{
	return put_row(db, &band_table, r, err, errlen);
}

static int read_band(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	read_row(st, &band_table, row);
	return 1;
}

int photdb_band_lightcurve(sqlite3 *db, const char *source, photdb_band_row **ret,
			   size_t *ret_n, char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(photdb_band_row), read_band, NULL };
	sqlite3_stmt *st = NULL;
	void *rows = NULL;
	char sql[1024];
	int rc = select_sql(&band_table, "WHERE source = ? ORDER BY mjd, group_id, subband", sql,
			    sizeof sql, err, errlen);

	if (rc == 0)
		rc = db_prepare(db, err, errlen, &st, sql, "s", source);
	if (rc < 0)
		return rc;
	rc = db_rows(st, &type, NULL, &rows, ret_n, band_table.name, err, errlen);
	if (rc == 0)
		*ret = rows;
	return rc;
}

int photdb_spindex_put(sqlite3 *db, const photdb_spindex *r, char *err, size_t errlen)
{
	return put_row(db, &spindex_table, r, err, errlen);
}

int photdb_spindex_get(sqlite3 *db, int64_t group_id, const char *source, photdb_spindex *ret,
		       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[1024];
	int rc = select_sql(&spindex_table, "WHERE group_id = ? AND source = ?", sql, sizeof sql,
			    err, errlen);

	if (rc == 0)
		rc = db_prepare(db, err, errlen, &st, sql, "Is", group_id, source);
	if (rc < 0)
		return rc;
	rc = get_row(db, &spindex_table, st, ret, sizeof *ret, err, errlen);
	if (rc == 0)
		rc = err_set(err, errlen, -ENOENT, "no spectral index of %s in group %lld", source,
			     (long long)group_id);
	return rc < 0 ? rc : 0;
}

int photdb_ese_band_put(sqlite3 *db, const photdb_ese_band *r, char *err, size_t errlen)
{
	return put_row(db, &ese_band_table, r, err, errlen);
}

int photdb_ese_band_get(sqlite3 *db, const char *source, photdb_ese_band *ret, char *err,
			size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[1024];
	int rc = select_sql(&ese_band_table, "WHERE source = ?", sql, sizeof sql, err, errlen);

	if (rc == 0)
		rc = db_prepare(db, err, errlen, &st, sql, "s", source);
	if (rc < 0)
		return rc;
	rc = get_row(db, &ese_band_table, st, ret, sizeof *ret, err, errlen);
	if (rc == 0)
		rc = err_set(err, errlen, -ENOENT, "no sub-band lens fit of %s", source);
	return rc < 0 ? rc : 0;
}
