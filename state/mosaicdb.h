/*
 * state/mosaicdb.h — the `mosaics` table and the tile query that plans a
 * mosaic from the `images` table (written by the image stage).
 *
 * A tile is a group's primary-beam-corrected image (images.pbcor = 1) with
 * its pb image (the group's `pb` product, else the pbcor path with
 * ".pbcor.fits" replaced by ".pb.fits"), its noise (images.noise_jy, the
 * residual's noise before pb correction) and its mid time
 * mjd_obs + integration_s / 2.  All SQL is parameterised.
 */
#ifndef CONTIMG_MOSAICDB_H
#define CONTIMG_MOSAICDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

typedef struct mosaicdb_tile {
	char group[64];          /* groups.name */
	char path[4096];         /* pbcor FITS */
	char pb_path[4096];      /* pb FITS */
	double mid_mjd;          /* UTC MJD of the image's mid time */
	double noise_jy;         /* <= 0 when unknown (then the FITS NOISE keyword is used) */
	double ra_deg, dec_deg;  /* image centre (ICRS) */
	int nx;
	double cell_arcsec;
	double bmaj_arcsec, bmin_arcsec;
	int calibrated;
} mosaicdb_tile;

/* The tiles whose mid time lies in [t_start_mjd, t_end_mjd], ordered by
 * time, one per group (the newest images row when a group has several).
 * When near != 0 only tiles whose centre lies within radius_deg of
 * (ra_deg, dec_deg) are kept.  *ret is a new array the caller free()s
 * (NULL when *ret_n = 0).  -EIO with SQLite's message (e.g. no images table
 * in an old database), -ENOMEM. */
int mosaicdb_plan(sqlite3 *db, double t_start_mjd, double t_end_mjd, int near, double ra_deg,
		  double dec_deg, double radius_deg, mosaicdb_tile **ret, int *ret_n, char *err,
		  size_t errlen);

typedef struct mosaicdb_row {
	const char *name, *path, *weight_path, *noise_path;
	double created;          /* unix seconds */
	double t_start_mjd, t_end_mjd;
	int ntiles;
	double ra_deg, dec_deg;
	int nx, ny;
	double cell_arcsec;
	const char *groups;      /* comma-separated group names */
} mosaicdb_row;

/* Insert a mosaic, or update the row with the same path (rebuilding a mosaic
 * replaces its record).  *ret_id (may be NULL) gets the row id.  -EIO. */
int mosaicdb_record(sqlite3 *db, const mosaicdb_row *row, int64_t *ret_id, char *err,
		    size_t errlen);

#endif
