/*
 * state/webdb.c — the web service's read-only views (state/webdb.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "state/db.h"
#include "state/webdb.h"

static int missing_table(sqlite3 *db)
{
	return strstr(sqlite3_errmsg(db), "no such table") != NULL;
}

static int read_image(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	webdb_image *m = row;
	(void)arg, (void)err, (void)errlen;
	db_column_text(st, 0, m->group, sizeof m->group);
	db_column_text(st, 1, m->path, sizeof m->path);
	m->mjd_obs = db_column_real_or_nan(st, 2);
	m->bmaj_arcsec = db_column_real_or_nan(st, 3);
	m->bmin_arcsec = db_column_real_or_nan(st, 4);
	m->bpa_deg = db_column_real_or_nan(st, 5);
	m->noise_jy = db_column_real_or_nan(st, 6);
	m->peak_jy = db_column_real_or_nan(st, 7);
	m->dynamic_range = db_column_real_or_nan(st, 8);
	m->ra_deg = db_column_real_or_nan(st, 9);
	m->dec_deg = db_column_real_or_nan(st, 10);
	m->nx = sqlite3_column_int(st, 11);
	m->ny = sqlite3_column_int(st, 12);
	m->cell_arcsec = db_column_real_or_nan(st, 13);
	m->freq_hz = db_column_real_or_nan(st, 14);
	m->bandwidth_hz = db_column_real_or_nan(st, 15);
	m->integration_s = db_column_real_or_nan(st, 16);
	m->calibrated = sqlite3_column_int(st, 17);
	m->flag_fraction = db_column_real_or_nan(st, 18);
	m->n_antennas = sqlite3_column_int(st, 19);
	m->expected_noise_jy = db_column_real_or_nan(st, 20);
	db_column_text(st, 21, m->noise_method, sizeof m->noise_method);
	return 1;
}

int webdb_images(sqlite3 *db, int limit, webdb_image **ret, size_t *ret_n, char *err,
		 size_t errlen)
{
	static const db_row_type type = { sizeof(webdb_image), read_image, NULL };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	int r;

	/* The noise columns came with a later migration: a database opened
	 * read-only before the daemon migrated it has no such columns, and its
	 * images are shown without them. */
	for (int with_noise = 1; with_noise >= 0; with_noise--) {
		char sql[1400];
		snprintf(sql, sizeof sql,
			 "SELECT g.name, i.path, i.mjd_obs, i.bmaj_arcsec, i.bmin_arcsec,"
			 " i.bpa_deg, i.noise_jy, i.peak_jy, i.dynamic_range, i.ra_deg,"
			 " i.dec_deg, i.nx, i.ny, i.cell_arcsec, i.freq_hz, i.bandwidth_hz,"
			 " i.integration_s, i.calibrated,"
			 " (SELECT f.fraction FROM flag_stats f WHERE f.group_id = g.id"
			 "   AND f.kind = 'total'),"
			 " (SELECT count(*) FROM flag_stats f WHERE f.group_id = g.id"
			 "   AND f.kind = 'antenna'), %s"
			 " FROM images i JOIN groups g ON g.id = i.group_id"
			 " WHERE i.pbcor = 0 AND g.state = 'completed'"
			 " ORDER BY i.mjd_obs DESC, i.id DESC LIMIT ?",
			 with_noise ? "i.expected_noise_jy, i.noise_method" : "NULL, NULL");
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK)
			break;
		if (missing_table(db)) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		if (!with_noise || !strstr(sqlite3_errmsg(db), "no such column"))
			return err_set(err, errlen, -EIO, "images: %s", sqlite3_errmsg(db));
	}
	sqlite3_bind_int(st, 1, limit);
	r = db_rows(st, &type, NULL, &v, ret_n, "images", err, errlen);
	if (r == 0)
		*ret = v;
	return r;
}

/* A source's row as read_source reads it: its name, mean position, number
 * of measurements, last epoch and candidate score (grouped by p.source). */
#define SOURCE_SELECT                                                                \
	"SELECT p.source, avg(p.ra_deg), avg(p.dec_deg), count(*), max(p.mjd),"      \
	" (SELECT c.score FROM ese_candidates c WHERE c.source = p.source)"          \
	" FROM photometry p"

static int read_source(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	webdb_source *s = row;
	(void)arg, (void)err, (void)errlen;
	db_column_text(st, 0, s->source, sizeof s->source);
	s->ra_deg = db_column_real_or_nan(st, 1);
	s->dec_deg = db_column_real_or_nan(st, 2);
	s->n = (long)sqlite3_column_int64(st, 3);
	s->last_mjd = db_column_real_or_nan(st, 4);
	s->score = db_column_real_or_nan(st, 5);
	return 1;
}

int webdb_sources(sqlite3 *db, const char *name_sub, double dec_lo, double dec_hi, int limit,
		  webdb_source **ret, size_t *ret_n, char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(webdb_source), read_source, NULL };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	char pat[2 * WEBDB_NAME_LEN + 3];
	size_t k = 0;
	int r;

	/* instr() rather than LIKE: the name needs no escaping of % and _. */
	if (sqlite3_prepare_v2(db,
			       SOURCE_SELECT
			       " WHERE (?1 IS NULL OR instr(lower(p.source), lower(?1)) > 0)"
			       " GROUP BY p.source"
			       " HAVING avg(p.dec_deg) BETWEEN ?2 AND ?3"
			       " ORDER BY p.source LIMIT ?4",
			       -1, &st, NULL) != SQLITE_OK) {
		if (missing_table(db)) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		return err_set(err, errlen, -EIO, "sources: %s", sqlite3_errmsg(db));
	}
	if (name_sub) {
		k = (size_t)snprintf(pat, sizeof pat, "%s", name_sub);
		sqlite3_bind_text(st, 1, pat, (int)(k < sizeof pat ? k : sizeof pat - 1),
				  SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_null(st, 1);
	}
	sqlite3_bind_double(st, 2, dec_lo);
	sqlite3_bind_double(st, 3, dec_hi);
	sqlite3_bind_int(st, 4, limit);
	r = db_rows(st, &type, NULL, &v, ret_n, "sources", err, errlen);
	if (r == 0)
		*ret = v;
	return r;
}

int webdb_source_get(sqlite3 *db, const char *name, webdb_source *ret, char *err,
		     size_t errlen)
{
	static const db_row_type type = { sizeof(webdb_source), read_source, NULL };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	size_t n = 0;
	int r = db_prepare(db, err, errlen, &st,
			   SOURCE_SELECT " WHERE p.source = ?1 GROUP BY p.source", "s", name);

	if (r < 0)
		return missing_table(db) ? 0 : r;
	r = db_rows(st, &type, NULL, &v, &n, "sources", err, errlen);
	if (r == 0 && n > 0) {
		*ret = *(webdb_source *)v; /* one row: the name is the GROUP BY key */
		r = 1;
	}
	free(v);
	return r;
}

int webdb_change_token(sqlite3 *db, int64_t *ret_version, double *ret_updated, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	double u = 0;
	int r = db_query_int(db, &v, err, errlen, "PRAGMA data_version", NULL);

	if (r < 0)
		return r;
	r = db_prepare(db, err, errlen, &st, "SELECT max(updated_at) FROM groups", NULL);
	if (r < 0)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW)
		u = sqlite3_column_double(st, 0);
	else
		r = err_set(err, errlen, -EIO, "groups: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	*ret_version = v;
	*ret_updated = u;
	return 0;
}

int webdb_open_immutable(const char *path, sqlite3 **ret, char *err, size_t errlen)
{
	static const char hex[] = "0123456789ABCDEF";
	char uri[3 * 4096 + 32];
	size_t k;
	sqlite3 *db = NULL;
	int64_t v = 0;
	int r;

	if (access(path, F_OK) != 0)
		return err_set(err, errlen, -ENOENT, "%s: no state database", path);
	/* file: URI with every byte outside the unreserved set and '/' escaped. */
	k = (size_t)snprintf(uri, sizeof uri, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (k + 4 >= sizeof uri - 20)
			return err_set(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '/' || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			uri[k++] = (char)*p;
		} else {
			uri[k++] = '%';
			uri[k++] = hex[*p >> 4];
			uri[k++] = hex[*p & 15];
		}
	}
	snprintf(uri + k, sizeof uri - k, "?immutable=1");
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		r = err_set(err, errlen, -EIO, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return r;
	}
	r = db_query_int(db, &v, err, errlen, "PRAGMA user_version", NULL);
	if (r < 0) {
		sqlite3_close(db);
		return r;
	}
	*ret = db;
	return 0;
}

int webdb_stamp_field(sqlite3 *db, int64_t group_id, double *ret_ra, double *ret_dec,
		      double *ret_radius_deg, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, err, errlen, &st,
			   "SELECT i.ra_deg, i.dec_deg, min(i.nx, i.ny) * i.cell_arcsec / 7200.0"
			   " FROM images i WHERE i.group_id = ?1 AND i.pbcor = 0 AND EXISTS"
			   " (SELECT 1 FROM products p WHERE p.group_id = ?1 AND p.name = 'pbcor')"
			   " LIMIT 1", "I", group_id);
	if (r < 0)
		return r;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*ret_ra = sqlite3_column_double(st, 0);
		*ret_dec = sqlite3_column_double(st, 1);
		*ret_radius_deg = sqlite3_column_double(st, 2);
		r = 1;
	} else if (r == SQLITE_DONE) {
		r = 0;
	} else {
		r = err_set(err, errlen, -EIO, "images: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}
