/*
 * state/mosaicdb.c — mosaics table and mosaic planning (see mosaicdb.h).
 */
#include "state/mosaicdb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "state/db.h"

#define DEG (M_PI / 180.0)

static double sep_deg(double ra1, double dec1, double ra2, double dec2)
{
	double a = ra1 * DEG, b = dec1 * DEG, c = ra2 * DEG, d = dec2 * DEG;
	double x = sin(b) * sin(d) + cos(b) * cos(d) * cos(a - c);
	return acos(fmin(1.0, fmax(-1.0, x))) / DEG;
}

static void copy_text(char *dst, size_t len, const unsigned char *src)
{
	snprintf(dst, len, "%s", src ? (const char *)src : "");
}

/* "dir/G.pbcor.fits" → "dir/G.pb.fits" (the image stage's naming). */
static void pb_from_pbcor(char *dst, size_t len, const char *pbcor)
{
	size_t n = strlen(pbcor);
	const char *suf = ".pbcor.fits";
	size_t ns = strlen(suf);

	if (n > ns && !strcmp(pbcor + n - ns, suf))
		snprintf(dst, len, "%.*s.pb.fits", (int)(n - ns), pbcor);
	else
		dst[0] = 0;
}

/* Keep only tiles within radius_deg of (ra_deg, dec_deg) when near. */
struct plan_filter {
	int near;
	double ra_deg, dec_deg, radius_deg;
};

static int read_tile(sqlite3_stmt *st, void *row, void *arg, char *err, size_t errlen)
{
	const struct plan_filter *f = arg;
	mosaicdb_tile *t = row;
	(void)err, (void)errlen;

	copy_text(t->group, sizeof t->group, sqlite3_column_text(st, 0));
	copy_text(t->path, sizeof t->path, sqlite3_column_text(st, 1));
	if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		copy_text(t->pb_path, sizeof t->pb_path, sqlite3_column_text(st, 2));
	else
		pb_from_pbcor(t->pb_path, sizeof t->pb_path, t->path);
	t->mid_mjd = sqlite3_column_double(st, 3);
	t->noise_jy = sqlite3_column_double(st, 4);
	t->ra_deg = sqlite3_column_double(st, 5);
	t->dec_deg = sqlite3_column_double(st, 6);
	t->nx = sqlite3_column_int(st, 7);
	t->cell_arcsec = sqlite3_column_double(st, 8);
	t->bmaj_arcsec = sqlite3_column_double(st, 9);
	t->bmin_arcsec = sqlite3_column_double(st, 10);
	t->calibrated = sqlite3_column_int(st, 11);
	return !f->near || sep_deg(f->ra_deg, f->dec_deg, t->ra_deg, t->dec_deg) <= f->radius_deg;
}

int mosaicdb_plan(sqlite3 *db, double t_start_mjd, double t_end_mjd, int near, double ra_deg,
		  double dec_deg, double radius_deg, mosaicdb_tile **ret, int *ret_n, char *err,
		  size_t errlen)
{
	static const db_row_type type = { sizeof(mosaicdb_tile), read_tile, NULL };
	struct plan_filter f = { near, ra_deg, dec_deg, radius_deg };
	sqlite3_stmt *st = NULL;
	void *v = NULL;
	size_t n = 0;
	int r;

	r = db_prepare(
		db, err, errlen, &st,
		"SELECT g.name, i.path, p.path,"
		"  i.mjd_obs + coalesce(i.integration_s, 0) / 172800.0 AS mid,"
		"  coalesce(i.noise_jy, 0), coalesce(i.ra_deg, 0), coalesce(i.dec_deg, 0),"
		"  coalesce(i.nx, 0), coalesce(i.cell_arcsec, 0), coalesce(i.bmaj_arcsec, 0),"
		"  coalesce(i.bmin_arcsec, 0), i.calibrated"
		" FROM images i JOIN groups g ON g.id = i.group_id"
		" LEFT JOIN products p ON p.group_id = i.group_id AND p.name = 'pb'"
		" WHERE i.pbcor = 1 AND i.mjd_obs IS NOT NULL"
		"  AND i.id = (SELECT i2.id FROM images i2 WHERE i2.group_id = i.group_id"
		"              AND i2.pbcor = 1 ORDER BY i2.created_at DESC, i2.id DESC LIMIT 1)"
		"  AND i.mjd_obs + coalesce(i.integration_s, 0) / 172800.0 BETWEEN ? AND ?"
		" ORDER BY mid, g.name",
		"dd", t_start_mjd, t_end_mjd);
	if (r < 0)
		return r;
	r = db_rows(st, &type, &f, &v, &n, "mosaic plan", err, errlen);
	if (r < 0)
		return r;
	*ret = v;
	*ret_n = (int)n;
	return 0;
}

int mosaicdb_record(sqlite3 *db, const mosaicdb_row *row, int64_t *ret_id, char *err,
		    size_t errlen)
{
	int64_t id = 0;
	int r;

	r = db_begin(db, err, errlen);
	if (r < 0)
		return r;
	r = db_exec(db, err, errlen,
		    "INSERT INTO mosaics (name, path, weight_path, noise_path, created, t_start_mjd,"
		    " t_end_mjd, ntiles, ra_deg, dec_deg, nx, ny, cell_arcsec, groups)"
		    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
		    " ON CONFLICT(path) DO UPDATE SET name = excluded.name,"
		    " weight_path = excluded.weight_path, noise_path = excluded.noise_path,"
		    " created = excluded.created, t_start_mjd = excluded.t_start_mjd,"
		    " t_end_mjd = excluded.t_end_mjd, ntiles = excluded.ntiles,"
		    " ra_deg = excluded.ra_deg, dec_deg = excluded.dec_deg, nx = excluded.nx,"
		    " ny = excluded.ny, cell_arcsec = excluded.cell_arcsec, groups = excluded.groups",
		    "ssssdddiddiids", row->name, row->path, row->weight_path, row->noise_path,
		    row->created, row->t_start_mjd, row->t_end_mjd, row->ntiles, row->ra_deg,
		    row->dec_deg, row->nx, row->ny, row->cell_arcsec,
		    row->groups ? row->groups : "");
	if (r >= 0)
		r = db_query_int(db, &id, err, errlen, "SELECT id FROM mosaics WHERE path = ?", "s",
				 row->path);
	if (r >= 0 && r != 1)
		r = err_set(err, errlen, -EIO, "mosaic record: row for %s not found", row->path);
	{
		int e = db_end(db, r >= 0, r >= 0 ? err : NULL, r >= 0 ? errlen : 0);
		if (r >= 0)
			r = e;
	}
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	return 0;
}
