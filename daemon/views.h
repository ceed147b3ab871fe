/*
 * daemon/views.h — the JSON objects contimg shows: one implementation of
 * each, printed by `contimgctl … --json` and served by contimg-web's /api/.
 *
 * Each view reads the state database through state/ (no SQL here) and
 * builds a json-c object whose keys are the contracts of docs/cli.md (the
 * CLI's) and docs/web.md (the ones only the web service serves).  The
 * builders were moved here verbatim from daemon/ctl_ops.c, ctl_cat.c and
 * ctl_phot.c, so the CLI prints exactly what it printed before.
 *
 * Ownership: every json_object a view returns is new and the caller's
 * (json_object_put).  Errors: the int-returning views give 0 (or 1/0 for
 * found/not found where documented) on success and a negative errno with one
 * sentence in err on failure (-EIO for the database, -ENOMEM); *ret is
 * untouched on failure.  Views never log or print.
 */
#ifndef CONTIMG_VIEWS_H
#define CONTIMG_VIEWS_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "daemon/settings.h"
#include "state/calreg.h"
#include "state/photdb.h"
#include "state/pointingdb.h"

/* `contimgctl status --json`: daemon (running: the pid file's lock under
 * s->state_dir), state_db, counts, running, last_completed, last_error,
 * groups_per_hour (completed since now - 3600).  now: unix seconds. */
int view_status(sqlite3 *db, const pipe_settings *s, const house_settings *hs, double now,
		json_object **ret, char *err,
		size_t errlen);

/* `contimgctl groups --json`: the groups in state (NULL: any; "stale" too)
 * whose time is >= since_t, newest first, at most limit (0: all), as an
 * array of group objects. */
int view_groups(sqlite3 *db, const char *state, int64_t since_t, int limit, json_object **ret,
		char *err, size_t errlen);

/* `contimgctl show GROUP --json` of group gid (groups.id): 1 and *ret when
 * it exists, 0 when it does not. */
int view_group(sqlite3 *db, int64_t gid, json_object **ret, char *err, size_t errlen);

/* The "pointing" object of show/process (docs/cli.md) of g (as every
 * builder here, it does not check json-c's constructors, which fail only
 * out of memory). */
json_object *view_pointing(const pointingdb_group *g);

/* `contimgctl caltables --json` of rows[0..n-1] (calreg_list's order). */
json_object *view_caltables_json(const calreg_entry *rows, size_t n);

/* calreg_list, then view_caltables_json; a database from before the
 * registry's migration gives an empty array. */
int view_caltables(sqlite3 *db, json_object **ret, char *err, size_t errlen);

/* `contimgctl candidates --json` of c[0..n-1] (photdb_cand_list's order). */
json_object *view_candidates_json(const photdb_cand *c, size_t n);

/* photdb_cand_list, then view_candidates_json. */
int view_candidates(sqlite3 *db, json_object **ret, char *err, size_t errlen);

/* The flags integer of a light-curve point (docs/cli.md): forced flags in
 * bits 0-7, normalisation flags in bits 8-15, PHOT_FLAG_UNCALIBRATED. */
unsigned view_point_flags(const photdb_row *r);

/* 1 when r's raw flux is in Jy: a gain solution set its flux scale
 * (groups.calibrated == PHOT_CAL_FULL); bandpass-only and uncalibrated raw
 * fluxes are "uncal" (docs/photometry.md). */
int view_flux_in_jy(const photdb_row *r);

/* `contimgctl lightcurve SOURCE --json` of rows[0..n-1] (oldest first). */
json_object *view_lightcurve_json(const char *source, const photdb_row *rows, size_t n);

/* photdb_lightcurve, then view_lightcurve_json: 1 and *ret when the source
 * has photometry, 0 when it has none. */
int view_lightcurve(sqlite3 *db, const char *source, json_object **ret, char *err,
		    size_t errlen);

/* ---- `contimgctl quality` (docs/cli.md): the epoch quality records ---- */

/* The names of the bits of an epoch_quality.flags (enum phot_qual,
 * daemon/stage_photometry.h), in bit order: noise, dr, flagged, correction,
 * clipped, radiometer, provisional; a bit without a name as "bitN".  Into
 * buf, separated by commas, or "ok" when flags is 0; truncated to buflen. */
void view_quality_checks_text(unsigned flags, char *buf, size_t buflen);

/* One record as an object: group_id (groups.id), group (its name; null when
 * empty), mjd, noise_jy, expected_noise_jy, radiometer_ratio, noise_ratio,
 * dynamic_range, correction, correction_z, clipped_frac, flagged_frac, nref,
 * flags (int), checks (the array of view_quality_checks_text's names; empty
 * when flags is 0), ok (no PHOT_QUAL_BAD bit: provisional is ok).  Unknown
 * numbers are null. */
json_object *view_quality_record(const photdb_quality *q, const char *group);

/* `contimgctl quality --json`: {"records": [view_quality_record of
 * e[0..n-1]]} (photdb_quality_list's order). */
json_object *view_quality_json(const photdb_quality_entry *e, size_t n);

/* The checks of record q against the thresholds qs ([photometry] quality_*)
 * as an array, one object per check in bit order: check (its name), value
 * (the number compared: noise_ratio, dynamic_range, flagged_frac,
 * correction_z, clipped_frac, radiometer_ratio; null when unknown, which
 * passes), limit, compare ("<=", ">=", or "|z| <=" for the correction),
 * enabled (false for a limit of 0 that turns dr or radiometer off), failed
 * (the stored verdict, q->flags), fails_now (the verdict of these limits:
 * they may have changed since the image was processed). */
json_object *view_quality_thresholds(const photdb_quality *q, const phot_quality_settings *qs);

/* ---- views only contimg-web serves (docs/web.md) ---- */

/* The ESE model of candidate source, sampled at npts (>= 2) times from
 * t0_mjd to t1_mjd: {score, f0_jy, t0_mjd, t_days, alpha, src_size,
 * curve: [[mjd, flux_jy] ...]} (photometry/ese.h ese_model_flux).  1 and
 * *ret when the source is a candidate, 0 when it is not. */
int view_ese_model(sqlite3 *db, const char *source, double t0_mjd, double t1_mjd, int npts,
		   json_object **ret, char *err, size_t errlen);

/* {"GROUPS.ID": "YYYY-MM-DDTHH:MM:SS", ...} for the group_id of every point
 * of a view_lightcurve object (the stamps of the page are per group name). */
int view_group_names(sqlite3 *db, json_object *lightcurve, json_object **ret, char *err,
		     size_t errlen);

/* The restored (not primary-beam-corrected) images of completed groups,
 * newest first, at most limit (1..1000), each {group_id, product (the FITS
 * file's name, no directory), mjd_obs, rms_jy, expected_rms_jy,
 * expected_rms_source, rms_ratio, peak_jy, dynamic_range, beam {bmaj_arcsec,
 * bmin_arcsec, bpa_deg}, centre {ra_deg, dec_deg}, nx, ny, cell_arcsec,
 * freq_hz, bandwidth_hz, integration_s, calibrated, flag_fraction,
 * n_antennas, quicklook_url}.  expected_rms_jy is the radiometer expectation
 * the image stage recorded from the image's own visibilities and imaging
 * weights (images.expected_noise_jy, imaging/noise.h; expected_rms_source
 * "data"); for rows without it, the radiometer equation for natural
 * weighting, SEFD / sqrt(2 N(N-1)/2 Δν τ (1 - f)) with N the antennas of the
 * flag statistics, f the flagged fraction and sefd_jy ([web] sefd_jy)
 * ("sefd-natural"); both null when neither is known.  rms_ratio = rms_jy /
 * expected_rms_jy.  quicklook_url is "/products/GROUP/quicklook.png". */
int view_images(sqlite3 *db, int limit, double sefd_jy, json_object **ret, char *err,
		size_t errlen);

/* The first object of view_images (limit 1): 1 and *ret, 0 when no image
 * exists yet. */
int view_image_latest(sqlite3 *db, double sefd_jy, json_object **ret, char *err,
		      size_t errlen);

/* Sources with photometry: by name (name != NULL: those whose name contains
 * name, case-insensitively) or by position (name == NULL: within radius_deg
 * of ra_deg, dec_deg, nearest first), at most limit, as an array of
 * {source, ra_deg, dec_deg, n, last_mjd, score (the candidate's, else null),
 * distance_deg (position searches only)}. */
int view_sources(sqlite3 *db, const char *name, double ra_deg, double dec_deg,
		 double radius_deg, int limit, json_object **ret, char *err, size_t errlen);

#endif
