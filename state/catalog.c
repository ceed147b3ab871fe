/*
 * state/catalog.c — the catalog database (see catalog.h); the text importers
 * that feed it are state/catalog_import.c.
 */
#include "state/catalog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/err.h"
#include "core/fluxscale.h"
#include "state/db.h"

#define DEG2RAD (M_PI / 180.0)
#define CATALOG_SCHEMA_VERSION 1
/* Two sources closer than the NVSS restoring beam (45″ FWHM) blend in the
 * survey and in our 20–40″ images; such sources make poor flux references. */
#define CATALOG_CONFUSION_ARCSEC 45.0

struct catalog {
	sqlite3 *db;
	char path[1024];
};

static const char *const schema_v1 =
	"CREATE TABLE sources ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" ra_deg REAL NOT NULL,"
	" dec_deg REAL NOT NULL,"
	" flux_mjy REAL NOT NULL,"           /* at 1.4 GHz */
	" spectral_index REAL,"              /* NULL = unknown */
	" e_flux_mjy REAL,"
	" e_ra_arcsec REAL,"
	" e_dec_arcsec REAL,"
	" major_arcsec REAL,"
	" minor_arcsec REAL,"
	" resolved INTEGER NOT NULL DEFAULT 0,"
	" confused INTEGER NOT NULL DEFAULT 0,"
	" snr REAL,"
	" origin TEXT NOT NULL);"
	"CREATE INDEX sources_dec ON sources(dec_deg);"
	"CREATE TABLE calibrators ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" alt_name TEXT NOT NULL DEFAULT '',"
	" ra_deg REAL NOT NULL,"             /* J2000 */
	" dec_deg REAL NOT NULL,"
	" pos_code TEXT NOT NULL DEFAULT '?');"
	"CREATE INDEX calibrators_dec ON calibrators(dec_deg);"
	"CREATE TABLE calibrator_bands ("
	" calibrator_id INTEGER NOT NULL REFERENCES calibrators(id) ON DELETE CASCADE,"
	" band TEXT NOT NULL,"               /* '20cm' */
	" code TEXT NOT NULL,"               /* 'L' */
	" quality TEXT NOT NULL,"            /* A B C D configuration codes, e.g. 'SPPP' */
	" flux_jy REAL,"
	" uvmin_kl REAL,"
	" uvmax_kl REAL,"
	" PRIMARY KEY (calibrator_id, band));";

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static int sql_err(char *err, size_t errlen, sqlite3 *db, const char *what)
{
	return err_set(err, errlen, -EIO, "catalog: %s: %s", what, db ? sqlite3_errmsg(db) : "?");
}

static int exec(catalog *c, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = err_set(err, errlen, -EIO, "catalog %s: %s", c->path, msg ? msg : "?");
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

/* Great-circle distance (haversine: well conditioned at small separations). */
static double sep_deg(double ra1, double dec1, double ra2, double dec2)
{
	double d1 = dec1 * DEG2RAD, d2 = dec2 * DEG2RAD;
	double sd = sin((d2 - d1) / 2), sa = sin((ra2 - ra1) * DEG2RAD / 2);
	double h = sd * sd + cos(d1) * cos(d2) * sa * sa;
	if (h > 1)
		h = 1;
	return 2 * asin(sqrt(h)) / DEG2RAD;
}

/* ------------------------------------------------------------------ */
/* open / close                                                         */

int catalog_default_path(const char *state_dir, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", state_dir && *state_dir ? state_dir : ".", CATALOG_FILE);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The schema version (PRAGMA user_version; 0 when unset).  A failure is
 * reported as "catalog: <what>: <sqlite message>". */
static int user_version(catalog *c, const char *what, int *ret, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	*ret = 0;
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return sql_err(err, errlen, c->db, what);
	if (sqlite3_step(st) == SQLITE_ROW)
		*ret = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int migrate(catalog *c, char *err, size_t errlen)
{
	int version = 0, r;

	if ((r = user_version(c, "user_version", &version, err, errlen)) < 0)
		return r;
	if (version > CATALOG_SCHEMA_VERSION)
		return err_set(err, errlen, -EPROTO,
			       "catalog %s: schema version %d is newer than this program's %d",
			       c->path, version, CATALOG_SCHEMA_VERSION);
	if (version == CATALOG_SCHEMA_VERSION)
		return 0;
	/* BEGIN IMMEDIATE: two processes opening a fresh file must not both migrate. */
	if ((r = exec(c, "BEGIN IMMEDIATE", err, errlen)) < 0)
		return r;
	if ((r = user_version(c, "user_version", &version, err, errlen)) < 0)
		goto fail;
	if (version < 1 && (r = exec(c, schema_v1, err, errlen)) < 0)
		goto fail;
	if ((r = exec(c, "PRAGMA user_version = 1", err, errlen)) < 0)
		goto fail;
	return exec(c, "COMMIT", err, errlen);
fail:
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int catalog_open(const char *path, int readonly, catalog **ret_cat, char *err, size_t errlen)
{
	catalog *c = calloc(1, sizeof *c);
	int r = 0, flags;

	if (!c)
		return err_set(err, errlen, -ENOMEM, "catalog: out of memory");
	snprintf(c->path, sizeof c->path, "%s", path);
	/* Only a connection that may write checkpoints a WAL database and
	 * removes its -wal and -shm when it is the last to close; a read-only
	 * one leaves them behind (every `contimgctl process` left
	 * catalog.sqlite-wal and -shm in state_dir).  So a reader of a file it
	 * may write opens it read-write but query_only: it still cannot change
	 * the catalog, and it tidies up on close as a writer does. */
	if (readonly)
		flags = access(path, W_OK) == 0 ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	else
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		r = err_set(err, errlen, readonly ? -ENOENT : -EIO, "catalog %s: cannot open: %s",
			    path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(c->db, 10000);
	if (!readonly) {
		if ((r = exec(c, "PRAGMA journal_mode = WAL", err, errlen)) < 0)
			goto out;
		if ((r = exec(c, "PRAGMA foreign_keys = ON", err, errlen)) < 0)
			goto out;
		/* WAL + NORMAL stays consistent on a crash (only the last import could
		 * be lost on power failure, and imports are repeatable); FULL would
		 * fsync every commit and doubles the time of a full NVSS import. */
		if ((r = exec(c, "PRAGMA synchronous = NORMAL", err, errlen)) < 0)
			goto out;
		if ((r = migrate(c, err, errlen)) < 0)
			goto out;
	} else {
		int v = 0;
		if ((r = exec(c, "PRAGMA query_only = ON", err, errlen)) < 0)
			goto out;
		if ((r = user_version(c, path, &v, err, errlen)) < 0)
			goto out;
		if (v != CATALOG_SCHEMA_VERSION) {
			r = err_set(err, errlen, v ? -EPROTO : -ENOENT,
				    "catalog %s: %s (schema version %d)", path,
				    v ? "unsupported schema" : "not initialised", v);
			goto out;
		}
	}
out:
	if (r < 0) {
		catalog_close(c);
		return r;
	}
	*ret_cat = c;
	return 0;
}

void catalog_close(catalog *c)
{
	if (!c)
		return;
	sqlite3_close(c->db);
	free(c);
}

/* ------------------------------------------------------------------ */
/* sources: upsert and confusion flags                                  */

static const char *const upsert_source_sql =
	"INSERT INTO sources(name, ra_deg, dec_deg, flux_mjy, spectral_index, e_flux_mjy,"
	" e_ra_arcsec, e_dec_arcsec, major_arcsec, minor_arcsec, resolved, snr, origin)"
	" VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"
	" ON CONFLICT(name) DO UPDATE SET ra_deg=excluded.ra_deg, dec_deg=excluded.dec_deg,"
	" flux_mjy=excluded.flux_mjy, spectral_index=excluded.spectral_index,"
	" e_flux_mjy=excluded.e_flux_mjy, e_ra_arcsec=excluded.e_ra_arcsec,"
	" e_dec_arcsec=excluded.e_dec_arcsec, major_arcsec=excluded.major_arcsec,"
	" minor_arcsec=excluded.minor_arcsec, resolved=excluded.resolved, snr=excluded.snr,"
	" origin=excluded.origin";

static int upsert_source(catalog *c, sqlite3_stmt *st, const catalog_source *s, char *err,
			 size_t errlen)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 2, s->ra_deg);
	sqlite3_bind_double(st, 3, s->dec_deg);
	sqlite3_bind_double(st, 4, s->flux_mjy);
	db_bind_real_or_null(st, 5, s->spectral_index);
	db_bind_real_or_null(st, 6, s->e_flux_mjy);
	db_bind_real_or_null(st, 7, s->e_ra_arcsec);
	db_bind_real_or_null(st, 8, s->e_dec_arcsec);
	db_bind_real_or_null(st, 9, s->major_arcsec);
	db_bind_real_or_null(st, 10, s->minor_arcsec);
	sqlite3_bind_int(st, 11, s->resolved);
	db_bind_real_or_null(st, 12, s->snr);
	sqlite3_bind_text(st, 13, s->origin, -1, SQLITE_TRANSIENT);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(err, errlen, c->db, "insert source");
}

/* Start a source import: a write transaction and the prepared upsert. */
static int begin_import(catalog *c, sqlite3_stmt **st, int *in_tx, char *err, size_t errlen)
{
	int r = exec(c, "BEGIN IMMEDIATE", err, errlen);

	if (r < 0)
		return r;
	*in_tx = 1;
	if (sqlite3_prepare_v2(c->db, upsert_source_sql, -1, st, NULL) != SQLITE_OK)
		return sql_err(err, errlen, c->db, "prepare");
	return 0;
}

typedef struct pos_row {
	sqlite3_int64 id;
	double ra, dec;
	int confused, want;
} pos_row;

static int read_pos_row(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	pos_row *p = row;

	(void)arg, (void)err, (void)errlen;
	p->id = sqlite3_column_int64(st, 0);
	p->ra = sqlite3_column_double(st, 1);
	p->dec = sqlite3_column_double(st, 2);
	p->confused = sqlite3_column_int(st, 3);
	return 1;
}

/* Recompute `confused` for the whole table: a sweep over sources sorted by
 * declination compares each one only with those within the confusion radius
 * in dec, so a full NVSS table (1.8 M rows) takes seconds, not hours. */
static int update_confused(catalog *c, char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(pos_row), read_pos_row, NULL };
	sqlite3_stmt *st = NULL;
	pos_row *rows = NULL;
	void *v = NULL;
	size_t n = 0;
	int r = 0;
	const double rad = CATALOG_CONFUSION_ARCSEC / 3600.0;

	if (sqlite3_prepare_v2(c->db, "SELECT id, ra_deg, dec_deg, confused FROM sources"
				      " ORDER BY dec_deg", -1, &st, NULL) != SQLITE_OK) {
		r = sql_err(err, errlen, c->db, "confusion scan");
		goto out;
	}
	r = db_rows(st, &type, NULL, &v, &n, "catalog: confusion scan", err, errlen);
	st = NULL; /* finalized by db_rows */
	if (r < 0)
		goto out;
	rows = v;
	for (size_t i = 0; i < n; i++) {
		double cosd = cos(rows[i].dec * DEG2RAD);
		for (size_t j = i + 1; j < n && rows[j].dec - rows[i].dec <= rad; j++) {
			double dra = fabs(rows[j].ra - rows[i].ra);
			if (dra > 180)
				dra = 360 - dra;
			if (dra * cosd > 2 * rad && cosd > 0.01)
				continue;
			if (sep_deg(rows[i].ra, rows[i].dec, rows[j].ra, rows[j].dec) <= rad)
				rows[i].want = rows[j].want = 1;
		}
	}
	if (sqlite3_prepare_v2(c->db, "UPDATE sources SET confused = ?1 WHERE id = ?2", -1, &st,
			       NULL) != SQLITE_OK) {
		r = sql_err(err, errlen, c->db, "confusion update");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (rows[i].want == rows[i].confused)
			continue;
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, rows[i].want);
		sqlite3_bind_int64(st, 2, rows[i].id);
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = sql_err(err, errlen, c->db, "confusion update");
			goto out;
		}
	}
out:
	sqlite3_finalize(st);
	free(rows);
	return r;
}

/* End a source import begun by begin_import, whose outcome so far is r: when
 * r is 0, recompute the confusion flags and commit; otherwise, or when that
 * fails, roll back.  Finalizes st and returns the outcome. */
static int end_import(catalog *c, sqlite3_stmt *st, int in_tx, int r, char *err, size_t errlen)
{
	if (!r && !(r = update_confused(c, err, errlen))) {
		r = exec(c, "COMMIT", err, errlen);
		in_tx = 0;
	}
	if (in_tx)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(st);
	return r;
}

/* ------------------------------------------------------------------ */
/* writing: the database side of the imports                            */

struct catalog_batch {
	catalog *c;
	sqlite3_stmt *st; /* the prepared upsert */
	int in_tx;
};

int catalog_batch_begin(catalog *c, catalog_batch **ret, char *err, size_t errlen)
{
	catalog_batch *b = calloc(1, sizeof *b);
	int r;

	if (!b)
		return err_set(err, errlen, -ENOMEM, "catalog: out of memory");
	b->c = c;
	r = begin_import(c, &b->st, &b->in_tx, err, errlen);
	if (r < 0) {
		end_import(c, b->st, b->in_tx, r, err, errlen);
		free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int catalog_batch_add(catalog_batch *b, const catalog_source *s, char *err, size_t errlen)
{
	return upsert_source(b->c, b->st, s, err, errlen);
}

int catalog_batch_end(catalog_batch *b, int r, char *err, size_t errlen)
{
	if (!b)
		return r;
	r = end_import(b->c, b->st, b->in_tx, r, err, errlen);
	free(b);
	return r;
}

static int store_cals(catalog *c, const catalog_cal *cals, size_t n, char *err, size_t errlen)
{
	sqlite3_stmt *up = NULL, *id = NULL, *del = NULL, *ins = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(c->db,
			       "INSERT INTO calibrators(name, alt_name, ra_deg, dec_deg, pos_code)"
			       " VALUES(?1,?2,?3,?4,?5) ON CONFLICT(name) DO UPDATE SET"
			       " alt_name=excluded.alt_name, ra_deg=excluded.ra_deg,"
			       " dec_deg=excluded.dec_deg, pos_code=excluded.pos_code",
			       -1, &up, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "SELECT id FROM calibrators WHERE name = ?1", -1, &id,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "DELETE FROM calibrator_bands WHERE calibrator_id = ?1", -1,
			       &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db,
			       "INSERT INTO calibrator_bands(calibrator_id, band, code, quality,"
			       " flux_jy, uvmin_kl, uvmax_kl) VALUES(?1,?2,?3,?4,?5,?6,?7)",
			       -1, &ins, NULL) != SQLITE_OK) {
		r = sql_err(err, errlen, c->db, "prepare");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const catalog_cal *cal = &cals[i];
		char code[2] = { cal->pos_code, 0 };
		sqlite3_int64 rowid;

		sqlite3_reset(up);
		sqlite3_bind_text(up, 1, cal->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 2, cal->alt_name, -1, SQLITE_STATIC);
		sqlite3_bind_double(up, 3, cal->ra_deg);
		sqlite3_bind_double(up, 4, cal->dec_deg);
		sqlite3_bind_text(up, 5, code, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(up) != SQLITE_DONE) {
			r = sql_err(err, errlen, c->db, cal->name);
			goto out;
		}
		sqlite3_reset(id);
		sqlite3_bind_text(id, 1, cal->name, -1, SQLITE_STATIC);
		if (sqlite3_step(id) != SQLITE_ROW) {
			r = sql_err(err, errlen, c->db, cal->name);
			goto out;
		}
		rowid = sqlite3_column_int64(id, 0);
		sqlite3_reset(id);
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, rowid);
		if (sqlite3_step(del) != SQLITE_DONE) {
			r = sql_err(err, errlen, c->db, cal->name);
			goto out;
		}
		for (int b = 0; b < cal->nbands; b++) {
			const catalog_band *bd = &cal->bands[b];
			char bc[2] = { bd->code, 0 };
			sqlite3_reset(ins);
			sqlite3_bind_int64(ins, 1, rowid);
			sqlite3_bind_text(ins, 2, bd->band, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 3, bc, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ins, 4, bd->quality, -1, SQLITE_STATIC);
			db_bind_real_or_null(ins, 5, bd->flux_jy);
			db_bind_real_or_null(ins, 6, bd->uvmin_kl);
			db_bind_real_or_null(ins, 7, bd->uvmax_kl);
			if (sqlite3_step(ins) != SQLITE_DONE) {
				r = sql_err(err, errlen, c->db, cal->name);
				goto out;
			}
		}
	}
out:
	sqlite3_finalize(up);
	sqlite3_finalize(id);
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	return r;
}

int catalog_store_cals(catalog *c, const catalog_cal *cals, size_t n, char *err, size_t errlen)
{
	int r = exec(c, "BEGIN IMMEDIATE", err, errlen);

	if (r < 0)
		return r;
	if ((r = store_cals(c, cals, n, err, errlen)) < 0) {
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	r = exec(c, "COMMIT", err, errlen);
	if (r < 0)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* ------------------------------------------------------------------ */
/* queries                                                              */

static const char *const source_cols =
	"name, ra_deg, dec_deg, flux_mjy, spectral_index, e_flux_mjy, e_ra_arcsec, e_dec_arcsec,"
	" major_arcsec, minor_arcsec, resolved, confused, snr, origin";

static void read_source(sqlite3_stmt *st, catalog_source *s)
{
	memset(s, 0, sizeof *s);
	db_column_text(st, 0, s->name, sizeof s->name);
	s->ra_deg = sqlite3_column_double(st, 1);
	s->dec_deg = sqlite3_column_double(st, 2);
	s->flux_mjy = sqlite3_column_double(st, 3);
	s->spectral_index = db_column_real_or_nan(st, 4);
	s->e_flux_mjy = db_column_real_or_nan(st, 5);
	s->e_ra_arcsec = db_column_real_or_nan(st, 6);
	s->e_dec_arcsec = db_column_real_or_nan(st, 7);
	s->major_arcsec = db_column_real_or_nan(st, 8);
	s->minor_arcsec = db_column_real_or_nan(st, 9);
	s->resolved = sqlite3_column_int(st, 10);
	s->confused = sqlite3_column_int(st, 11);
	s->snr = db_column_real_or_nan(st, 12);
	db_column_text(st, 13, s->origin, sizeof s->origin);
}

static int cmp_source_flux(const void *a, const void *b)
{
	const catalog_source *x = a, *y = b;
	if (x->flux_mjy != y->flux_mjy)
		return x->flux_mjy > y->flux_mjy ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The cone catalog_sources_near keeps (read_cone_source's arg). */
typedef struct cone {
	double ra_deg, dec_deg, radius_deg;
	int all;
} cone;

static int read_cone_source(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	catalog_source *s = row;
	const cone *k = arg;

	(void)err, (void)errlen;
	read_source(st, s);
	s->sep_deg = sep_deg(k->ra_deg, k->dec_deg, s->ra_deg, s->dec_deg);
	return k->all || s->sep_deg <= k->radius_deg;
}

int catalog_sources_near(catalog *c, double ra_deg, double dec_deg, double radius_deg,
			 double min_flux_mjy, catalog_source **ret_src, size_t *ret_n,
			 char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(catalog_source), read_cone_source, NULL };
	cone k = { ra_deg, dec_deg, radius_deg, radius_deg >= 180 };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	size_t n = 0;
	int r;
	char sql[512];

	if (!isfinite(ra_deg) || !isfinite(dec_deg) || !(radius_deg >= 0))
		return err_set(err, errlen, -EINVAL, "catalog: bad cone (%g, %g, r=%g)", ra_deg,
			       dec_deg, radius_deg);
	/* The dec index bounds the scan; the exact distance is computed here. */
	snprintf(sql, sizeof sql, "SELECT %s FROM sources WHERE dec_deg BETWEEN ?1 AND ?2"
		 " AND flux_mjy >= ?3", source_cols);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_err(err, errlen, c->db, "sources query");
	sqlite3_bind_double(st, 1, k.all ? -91.0 : dec_deg - radius_deg);
	sqlite3_bind_double(st, 2, k.all ? 91.0 : dec_deg + radius_deg);
	sqlite3_bind_double(st, 3, isfinite(min_flux_mjy) ? min_flux_mjy : -1e300);
	r = db_rows(st, &type, &k, &v, &n, "catalog: sources query", err, errlen);
	if (r < 0)
		return r;
	if (n)
		qsort(v, n, sizeof(catalog_source), cmp_source_flux);
	*ret_src = v;
	*ret_n = n;
	return 0;
}

static int load_bands(catalog *c, sqlite3_int64 id, catalog_cal *cal, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(c->db, "SELECT band, code, quality, flux_jy, uvmin_kl, uvmax_kl"
				      " FROM calibrator_bands WHERE calibrator_id = ?1"
				      " ORDER BY CAST(band AS REAL) DESC", -1, &st, NULL) != SQLITE_OK)
		return sql_err(err, errlen, c->db, "bands query");
	sqlite3_bind_int64(st, 1, id);
	cal->nbands = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW && cal->nbands < CATALOG_MAX_BANDS) {
		catalog_band *b = &cal->bands[cal->nbands++];
		const unsigned char *code;
		memset(b, 0, sizeof *b);
		db_column_text(st, 0, b->band, sizeof b->band);
		code = sqlite3_column_text(st, 1);
		b->code = code ? (char)code[0] : '?';
		db_column_text(st, 2, b->quality, sizeof b->quality);
		b->flux_jy = db_column_real_or_nan(st, 3);
		b->uvmin_kl = db_column_real_or_nan(st, 4);
		b->uvmax_kl = db_column_real_or_nan(st, 5);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		return sql_err(err, errlen, c->db, "bands query");
	return 0;
}

static int read_cal(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	catalog_cal *cal = row;
	const unsigned char *pc;
	int r;

	db_column_text(st, 1, cal->name, sizeof cal->name);
	db_column_text(st, 2, cal->alt_name, sizeof cal->alt_name);
	cal->ra_deg = sqlite3_column_double(st, 3);
	cal->dec_deg = sqlite3_column_double(st, 4);
	pc = sqlite3_column_text(st, 5);
	cal->pos_code = pc ? (char)pc[0] : '?';
	if ((r = load_bands(arg, sqlite3_column_int64(st, 0), cal, err, errlen)) < 0)
		return r;
	return 1;
}

typedef struct cal_flux {
	catalog_cal cal;
	double key;
} cal_flux;

static int cmp_key_desc(const void *a, const void *b)
{
	const cal_flux *x = a, *y = b;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return strcmp(x->cal.name, y->cal.name);
}

/* Run "SELECT id, name, alt_name, ra_deg, dec_deg, pos_code FROM calibrators
 * WHERE <where>" and collect the rows with their bands: ?1 is bound to name
 * when one is given, otherwise ?1 and ?2 to lo and hi. */
static int query_cals(catalog *c, const char *where, const char *name, double lo, double hi,
		      catalog_cal **ret, size_t *ret_n, char *err, size_t errlen)
{
	static const db_row_type type = { sizeof(catalog_cal), read_cal, NULL };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	size_t n = 0;
	char sql[256];
	int r;

	snprintf(sql, sizeof sql, "SELECT id, name, alt_name, ra_deg, dec_deg, pos_code"
		 " FROM calibrators WHERE %s", where);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_err(err, errlen, c->db, "calibrators query");
	if (name) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_double(st, 1, lo);
		sqlite3_bind_double(st, 2, hi);
	}
	r = db_rows(st, &type, c, &v, &n, "catalog: calibrators query", err, errlen);
	if (r < 0)
		return r;
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The calibrators with lo <= dec <= hi, and a scratch array as long (NULL
 * when there are none) to rank them in. */
static int cals_in_dec(catalog *c, double lo, double hi, catalog_cal **ret, size_t *ret_n,
		       cal_flux **ret_tmp, char *err, size_t errlen)
{
	int r = query_cals(c, "dec_deg BETWEEN ?1 AND ?2", NULL, lo, hi, ret, ret_n, err, errlen);

	if (r < 0)
		return r;
	if (*ret_n && !(*ret_tmp = malloc(*ret_n * sizeof **ret_tmp))) {
		free(*ret);
		*ret = NULL;
		return err_set(err, errlen, -ENOMEM, "catalog: out of memory");
	}
	return 0;
}

/* Hand back the m entries kept in tmp, highest key first, in v's storage
 * (NULL when none are kept); frees tmp. */
static void rank_cals(cal_flux *tmp, size_t m, catalog_cal *v, catalog_cal **ret_cal,
		      size_t *ret_n)
{
	if (m)
		qsort(tmp, m, sizeof *tmp, cmp_key_desc);
	for (size_t i = 0; i < m; i++)
		v[i] = tmp[i].cal;
	free(tmp);
	if (!m) {
		free(v);
		v = NULL;
	}
	*ret_cal = v;
	*ret_n = m;
}

int catalog_cals_near_dec(catalog *c, double dec_deg, double half_width_deg,
			  double min_flux_jy, catalog_cal **ret_cal, size_t *ret_n,
			  char *err, size_t errlen)
{
	catalog_cal *v = NULL;
	cal_flux *tmp = NULL;
	size_t n = 0, m = 0;
	int r;

	if (!isfinite(dec_deg) || !(half_width_deg >= 0))
		return err_set(err, errlen, -EINVAL, "catalog: bad declination strip");
	r = cals_in_dec(c, dec_deg - half_width_deg, dec_deg + half_width_deg, &v, &n, &tmp, err,
			errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		catalog_calmodel mdl;
		double s = NAN;
		if (catalog_cal_model(c, &v[i], &mdl, NULL, 0) == 0)
			s = catalog_model_flux_jy(&mdl, CATALOG_L_BAND_HZ);
		if (min_flux_jy > 0 && !(s >= min_flux_jy))
			continue;
		tmp[m].cal = v[i];
		tmp[m].key = isfinite(s) ? s : -1;
		m++;
	}
	rank_cals(tmp, m, v, ret_cal, ret_n);
	return 0;
}

int catalog_cals_near(catalog *c, double ra_deg, double dec_deg, double radius_deg,
		      catalog_cal **ret_cal, size_t *ret_n, char *err, size_t errlen)
{
	catalog_cal *v = NULL;
	cal_flux *tmp = NULL;
	size_t n = 0, m = 0;
	int r, all = radius_deg >= 180;

	if (!isfinite(ra_deg) || !isfinite(dec_deg) || !(radius_deg >= 0))
		return err_set(err, errlen, -EINVAL, "catalog: bad cone");
	r = cals_in_dec(c, all ? -91.0 : dec_deg - radius_deg, all ? 91.0 : dec_deg + radius_deg,
			&v, &n, &tmp, err, errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		double d = sep_deg(ra_deg, dec_deg, v[i].ra_deg, v[i].dec_deg);
		if (!all && d > radius_deg)
			continue;
		tmp[m].cal = v[i];
		tmp[m].cal.sep_deg = d;
		tmp[m].key = -d; /* nearest first */
		m++;
	}
	rank_cals(tmp, m, v, ret_cal, ret_n);
	return 0;
}

int catalog_cal_get(catalog *c, const char *name, catalog_cal *ret_cal, char *err, size_t errlen)
{
	catalog_cal *v = NULL;
	size_t n = 0;
	int r;

	r = query_cals(c, "name = ?1 COLLATE NOCASE", name, 0, 0, &v, &n, err, errlen);
	if (r < 0)
		return r;
	if (n == 0) {
		/* An alternative name counts only when it names one calibrator
		 * ("3C286" does; the survey tag "JVAS" does not). */
		r = query_cals(c, "alt_name = ?1 COLLATE NOCASE", name, 0, 0, &v, &n, err, errlen);
		if (r < 0)
			return r;
	}
	if (n != 1) {
		free(v);
		return err_set(err, errlen, -ENOENT, "calibrator '%s' %s", name,
			       n ? "is ambiguous" : "not in the catalog");
	}
	*ret_cal = v[0];
	free(v);
	return 0;
}

int catalog_source_get(catalog *c, const char *name, catalog_source *ret_src, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[512];
	int r = 0, rc;

	snprintf(sql, sizeof sql, "SELECT %s FROM sources WHERE name = ?1", source_cols);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_err(err, errlen, c->db, "sources query");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_source(st, ret_src);
	else if (rc == SQLITE_DONE)
		r = err_set(err, errlen, -ENOENT, "source '%s' not in the catalog", name);
	else
		r = sql_err(err, errlen, c->db, "sources query");
	sqlite3_finalize(st);
	return r;
}

int catalog_counts(catalog *c, size_t *ret_sources, size_t *ret_cals, char *err, size_t errlen)
{
	const char *q[2] = { "SELECT count(*) FROM sources", "SELECT count(*) FROM calibrators" };
	size_t *out[2] = { ret_sources, ret_cals };

	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *st = NULL;
		if (!out[i])
			continue;
		if (sqlite3_prepare_v2(c->db, q[i], -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			return sql_err(err, errlen, c->db, "count");
		}
		*out[i] = (size_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* flux models                                                          */

int catalog_pb17_flux(const char *name, double freq_hz, double *ret_flux_jy, double *ret_alpha)
{
	return fluxscale_lookup(name, freq_hz, ret_flux_jy, ret_alpha);
}

double catalog_cal_lband_jy(const catalog_cal *cal)
{
	for (int i = 0; i < cal->nbands; i++)
		if (cal->bands[i].code == 'L' && isfinite(cal->bands[i].flux_jy) &&
		    cal->bands[i].flux_jy > 0)
			return cal->bands[i].flux_jy;
	return NAN;
}

int catalog_cal_model(catalog *c, const catalog_cal *cal, catalog_calmodel *ret_model,
		      char *err, size_t errlen)
{
	catalog_calmodel m;
	int i = fluxscale_find(cal->name);

	if (i < 0)
		i = fluxscale_find(cal->alt_name);
	memset(&m, 0, sizeof m);
	snprintf(m.name, sizeof m.name, "%s", cal->name);
	m.ra_rad = cal->ra_deg * DEG2RAD;
	m.dec_rad = cal->dec_deg * DEG2RAD;
	m.ref_freq_hz = CATALOG_L_BAND_HZ;
	m.pb17_index = -1;
	if (i >= 0) {
		m.kind = CATALOG_MODEL_PB17;
		m.pb17_index = i;
		m.flux_jy = fluxscale_flux_jy(i, m.ref_freq_hz, &m.alpha);
		goto done;
	}
	if (c) {
		catalog_source *s = NULL;
		size_t n = 0;
		int r = catalog_sources_near(c, cal->ra_deg, cal->dec_deg,
					     CATALOG_MATCH_ARCSEC / 3600.0, 0, &s, &n, err, errlen);
		if (r < 0)
			return r;
		if (n > 0 && s[0].flux_mjy > 0) {
			m.kind = CATALOG_MODEL_SOURCE;
			m.flux_jy = s[0].flux_mjy / 1000.0;
			m.alpha = isfinite(s[0].spectral_index) ? s[0].spectral_index : 0.0;
			free(s);
			goto done;
		}
		free(s);
	}
	m.flux_jy = catalog_cal_lband_jy(cal);
	if (!isfinite(m.flux_jy))
		return err_set(err, errlen, -ERANGE, "calibrator %s has no L-band flux", cal->name);
	/* The list's bands are from different epochs and configurations, so a
	 * two-band index would be a poor in-band slope; flat is the neutral choice
	 * (the bandpass is normalised, the gain solve carries the scale). */
	m.kind = CATALOG_MODEL_LIST;
	m.alpha = 0.0;
done:
	*ret_model = m;
	return 0;
}

double catalog_model_flux_jy(const catalog_calmodel *m, double freq_hz)
{
	if (m->kind == CATALOG_MODEL_PB17 && m->pb17_index >= 0 &&
	    m->pb17_index < fluxscale_count())
		return fluxscale_flux_jy(m->pb17_index, freq_hz, NULL);
	return fluxscale_power_law_jy(m->flux_jy, m->ref_freq_hz, m->alpha, freq_hz);
}
