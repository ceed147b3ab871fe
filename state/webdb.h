/*
 * state/webdb.h — read-only views of the state database that only the web
 * service (daemon/contimg-web.c) shows: recent images with their QA, the
 * sources that have photometry (search), and a cheap change token for the
 * server-sent events.  The CLI's views are state/report.h and the tables'
 * own modules; this one only reads and never changes the schema.
 *
 * Conventions as state/photdb.h: NULL columns read back as NAN (numbers) or
 * "" (text); text is truncated to its array.  All SQL is parameterised.
 * Errors follow core/err.h: 0 on success, -EIO with SQLite's message in err,
 * -ENOMEM; ret_* untouched on failure.
 */
#ifndef CONTIMG_WEBDB_H
#define CONTIMG_WEBDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define WEBDB_NAME_LEN 64

/* A restored image (images.pbcor = 0) of a completed group, with the
 * group's flag statistics. */
typedef struct webdb_image {
	char group[WEBDB_NAME_LEN];   /* groups.name */
	char path[4096];              /* images.path (the caller shows only its base name) */
	double mjd_obs;
	double bmaj_arcsec, bmin_arcsec, bpa_deg;
	double noise_jy, peak_jy, dynamic_range;
	double ra_deg, dec_deg;
	int nx, ny;
	double cell_arcsec, freq_hz, bandwidth_hz, integration_s;
	int calibrated;
	double flag_fraction;         /* flag_stats total row; NAN when none */
	int n_antennas;               /* flag_stats antenna rows (0: unknown) */
	double expected_noise_jy;     /* images.expected_noise_jy, the radiometer expectation
					 from the image's own visibilities; NAN when the row
					 has none (older rows, older schema, no estimate) */
	char noise_method[16];        /* images.noise_method ("poldiff", "timediff",
					 "none"); "" when unknown */
} webdb_image;

/* At most limit images (newest mjd_obs first) into a new array *ret (the
 * caller frees; NULL when *ret_n == 0).  A database without the images or
 * flag_stats tables (older schema) gives no rows; one whose images table
 * predates the noise columns gives NAN / "" for them. */
int webdb_images(sqlite3 *db, int limit, webdb_image **ret, size_t *ret_n, char *err,
		 size_t errlen);

/* A source with photometry. */
typedef struct webdb_source {
	char source[WEBDB_NAME_LEN];
	double ra_deg, dec_deg;      /* the mean of its measured positions */
	long n;                      /* photometry rows */
	double last_mjd;
	double score;                /* ese_candidates.score; NAN when not a candidate */
} webdb_source;

/* Sources whose name contains name_sub (case-insensitive; NULL: any) and
 * whose mean declination is within dec_lo..dec_hi degrees, by name, at most
 * limit into a new array *ret (the caller frees; NULL when *ret_n == 0). */
int webdb_sources(sqlite3 *db, const char *name_sub, double dec_lo, double dec_hi, int limit,
		  webdb_source **ret, size_t *ret_n, char *err, size_t errlen);

/* The source named exactly name (case and all; no substring match), as
 * webdb_sources gives it: 1 with *ret filled, 0 when it has no photometry
 * (or the database has no photometry table), -EIO. */
int webdb_source_get(sqlite3 *db, const char *name, webdb_source *ret, char *err,
		     size_t errlen);

/* A token that changes whenever another connection commits a change of the
 * queue: PRAGMA data_version (changes on any other connection's commit) and
 * the latest groups.updated_at.  Both go into *ret_version / *ret_updated. */
int webdb_change_token(sqlite3 *db, int64_t *ret_version, double *ret_updated, char *err,
		       size_t errlen);

/* Open path read-only as immutable (the "immutable=1" URI parameter): SQLite
 * then takes no locks and reads neither -wal nor -shm, so it works in a
 * read-only directory without them, but it does not see later changes and
 * must only be used while no writer runs (docs/web.md).  The caller closes
 * *ret with db_close.  -ENOENT, -EIO with the reason in err. */
int webdb_open_immutable(const char *path, sqlite3 **ret, char *err, size_t errlen);

/* The field of group group_id's image when a "pbcor" product (the image
 * stamps are cut from) is registered: 1 with its centre (ICRS degrees) and
 * the radius of the largest circle inside it; 0 when there is none, < 0 on
 * error. */
int webdb_stamp_field(sqlite3 *db, int64_t group_id, double *ret_ra, double *ret_dec,
		      double *ret_radius_deg, char *err, size_t errlen);

#endif
