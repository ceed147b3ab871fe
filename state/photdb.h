/*
 * state/photdb.h — the photometry tables of the state database: per-source
 * per-image measurements (photometry), running variability statistics
 * (variability_stats), ESE candidates (ese_candidates) and the reference
 * sources of the flux normalisation (reference_sources).  The schema is the
 * "phot:" migration in state/db.c.
 *
 * Conventions: NAN values are stored as NULL and read back as NAN; text
 * fields are NUL-terminated and truncated to their arrays.  All SQL is
 * parameterised.  Writers that read-then-write wrap calls in db_begin()/
 * db_end() (state/db.h).  Errors follow core/err.h: 0 or a negative errno
 * (-EIO for SQLite failures, -ENOENT for a missing row), message in err.
 */
#ifndef CONTIMG_PHOTDB_H
#define CONTIMG_PHOTDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define PHOTDB_NAME_LEN 64
#define PHOTDB_MAX_BASE 64

/* One measurement of one source on one image (a photometry row). */
typedef struct photdb_row {
	int64_t group_id;
	char source[PHOTDB_NAME_LEN];
	double mjd;
	double ra_deg, dec_deg;
	double flux_jy, flux_err_jy;
	double normalized_flux_jy, normalized_flux_err_jy;
	double correction, correction_err;
	double local_rms_jy, pb, chi2;
	int npix;
	unsigned forced_flags, norm_flags;
	int calibrated;
	int in_variability;
} photdb_row;

/* Insert or replace the row for (group_id, source), in_variability included:
 * a re-run replaces the epoch (the stage recomputes the statistics). */
int photdb_put(sqlite3 *db, const photdb_row *r, char *err, size_t errlen);

/* The stored row for (group_id, source); -ENOENT when absent. */
int photdb_get(sqlite3 *db, int64_t group_id, const char *source, photdb_row *ret,
	       char *err, size_t errlen);

/* All rows of a source ordered by mjd.  *ret is malloc'd (caller frees; NULL
 * when *ret_n == 0). */
int photdb_lightcurve(sqlite3 *db, const char *source, photdb_row **ret, size_t *ret_n,
		      char *err, size_t errlen);

/* The normalised light curve that entered the variability statistics (rows
 * with in_variability = 1).  The three arrays are malloc'd together with the
 * struct's owner: release with photdb_lc_release(). */
typedef struct photdb_lc {
	double *mjd;
	double *flux;           /* normalized_flux_jy (NAN when NULL) */
	double *err;            /* normalized_flux_err_jy (NAN when NULL) */
	size_t n;
} photdb_lc;

void photdb_lc_release(photdb_lc *lc); /* frees the arrays and zeroes *lc; NULL ok */

/* The rows of source with in_variability = 1 and mjd >= since_mjd (-INFINITY
 * or NAN: all), except those of group exclude_group (-1: none), ordered by
 * mjd, group_id.  *ret is filled on success (arrays NULL when n == 0). */
int photdb_var_lightcurve(sqlite3 *db, const char *source, double since_mjd,
			  int64_t exclude_group, photdb_lc *ret, char *err, size_t errlen);

/* Summary metrics of a source (a variability_stats row). */
typedef struct photdb_var {
	char source[PHOTDB_NAME_LEN];
	long n;
	double mean, std, min, max, wmean, chi2_nu, eta, v, sigma_deviation, vs, m;
	double first_mjd, last_mjd;
	double ese_score;
	double updated_at;
} photdb_var;

/* Upsert the metrics and the opaque running-sum state (state, state_len bytes). */
int photdb_var_put(sqlite3 *db, const photdb_var *v, const void *state, size_t state_len,
		   char *err, size_t errlen);

/* Read the metrics (ret may be NULL) and copy the state into state_buf when
 * its stored size equals state_len (else -EPROTO: written by another version).
 * -ENOENT when the source has no row. */
int photdb_var_get(sqlite3 *db, const char *source, photdb_var *ret, void *state_buf,
		   size_t state_len, char *err, size_t errlen);

/* An ESE candidate. */
typedef struct photdb_cand {
	char source[PHOTDB_NAME_LEN];
	double score;
	char status[16];        /* "new", "investigated", "dismissed" */
	char note[512];
	double decided_at;      /* unix seconds of the human decision, NAN if none */
	long n;
	double chi2_nu, eta, v;
	double amplitude, timescale_days, asymmetry;
	double f0, t0_mjd, t_days, alpha, src_size;
	double created_at, updated_at;
	/* What the fit knows beyond the above, and the vetting context (columns
	 * of the "alerts:" migration; written with the fields above, NAN / -1 /
	 * "" read back for a row written before them). */
	int ongoing;            /* 1: ingress seen, end not yet (photometry/ese.h) */
	char best_alt[24];      /* ese_alt_name() of the best alternative model */
	double alt_evidence;    /* summed BIC weight of the alternatives (1 − s_evid) */
	double dbic;            /* BIC(best alternative) − BIC(lens) */
	double duration_days;   /* D: full width at a quarter of the depth */
	double lensed_fraction;
	int n_event, n_ingress, n_egress, n_base; /* epochs inside, on the edges, outside */
	double s_evid, s_depth, s_time, s_epochs, s_sig, s_quiet; /* the score's terms */
	double last_mjd;        /* the epoch of the latest fit */
	double first_crossed_mjd; /* the epoch at which the score first reached the
				     candidate threshold (set once, by an upsert) ... */
	double first_crossed_at;  /* ... and the wall-clock time, unix seconds */
	double ra_deg, dec_deg; /* catalog position */
	double pb;              /* primary-beam level at the source in the latest image */
	double cat_flux_mjy;    /* catalog flux at 1.4 GHz */
	int cat_resolved, cat_confused; /* catalog flags (-1: unknown) */
	double cat_major_arcsec;/* catalog deconvolved major axis (NAN: unresolved/unknown) */
	char bright_source[64]; /* nearest bright catalog source ("" when none) ... */
	double bright_sep_deg, bright_flux_mjy; /* ... its distance and flux */
} photdb_cand;

/* Insert a candidate (status "new") or update the automatic fields of an
 * existing one.  status, note and decided_at of an existing row are never
 * changed here.  first_crossed_mjd/first_crossed_at are set from c->last_mjd
 * and the clock when the row has none yet, and never changed after. */
int photdb_cand_upsert(sqlite3 *db, const photdb_cand *c, char *err, size_t errlen);

/* Update the automatic fields (score and metrics) of an existing candidate
 * only (no insert); used when a source's score falls below the threshold.
 * Returns 0 also when there is no such row. */
int photdb_cand_refresh(sqlite3 *db, const photdb_cand *c, char *err, size_t errlen);

/* All candidates, highest score first (*ret malloc'd, caller frees). */
int photdb_cand_list(sqlite3 *db, photdb_cand **ret, size_t *ret_n, char *err, size_t errlen);

/* One candidate; -ENOENT when absent. */
int photdb_cand_get(sqlite3 *db, const char *source, photdb_cand *ret, char *err, size_t errlen);

/* Record a human decision: status "investigated" or "dismissed" (-EINVAL
 * otherwise), optional note (NULL keeps the old note).  -ENOENT when the
 * source is not a candidate. */
int photdb_cand_decide(sqlite3 *db, const char *source, const char *status, const char *note,
		       char *err, size_t errlen);

/* A reference source of the normalisation. */
typedef struct photdb_ref {
	char source[PHOTDB_NAME_LEN];
	double snr;
	int nbase;
	double base_flux[PHOTDB_MAX_BASE];
	double baseline;
	int retired;
	double retired_mjd, retire_chi2_nu;
} photdb_ref;

/* Read; -ENOENT when the source has no row. */
int photdb_ref_get(sqlite3 *db, const char *source, photdb_ref *ret, char *err, size_t errlen);

/* Upsert. */
int photdb_ref_put(sqlite3 *db, const photdb_ref *r, char *err, size_t errlen);

/* ---- epochs (issue 17): baselines from the rows, catch-up, quality ---- */

/* A reference's baseline epochs: the raw fluxes of its first `limit` rows by
 * (mjd, group_id) that are calibrated (calibrated = 1), have no bit of
 * forced_bad in forced_flags nor of norm_bad in norm_flags, and a flux, other
 * than group exclude_group.  ret_mjd/ret_flux have room for limit. */
int photdb_ref_base(sqlite3 *db, const char *source, int64_t exclude_group, unsigned forced_bad,
		    unsigned norm_bad, int limit, double *ret_mjd, double *ret_flux, int *ret_n,
		    char *err, size_t errlen);

/* The groups (other than exclude_group, by mjd) in which source has a
 * calibrated row with a bit of norm_prov and none of norm_bad in norm_flags.
 * *ret malloc'd (caller frees; NULL when none). */
int photdb_provisional_groups(sqlite3 *db, const char *source, int64_t exclude_group,
			      unsigned norm_prov, unsigned norm_bad, int64_t **ret, size_t *ret_n,
			      char *err, size_t errlen);

/* Every row of a group, by source.  *ret malloc'd (caller frees). */
int photdb_group_rows(sqlite3 *db, int64_t group_id, photdb_row **ret, size_t *ret_n,
		      char *err, size_t errlen);

/* The quality record of one image (table epoch_quality). */
typedef struct photdb_quality {
	int64_t group_id;
	double mjd;
	double noise_jy;        /* the image's residual noise */
	double noise_ratio;     /* noise / median of recent good epochs */
	double dynamic_range;   /* peak / noise */
	double correction;      /* the flux-scale correction */
	double correction_z;    /* its robust z against recent good epochs */
	double clipped_frac;    /* references clipped / references with a ratio */
	double flagged_frac;    /* visibilities flagged by the flag stage */
	double expected_noise_jy; /* the image's radiometer expectation from its own
				     visibilities (images.expected_noise_jy); NAN: none */
	double radiometer_ratio;  /* noise_jy / expected_noise_jy; NAN: no expectation */
	int nref;               /* references used */
	unsigned flags;         /* which checks failed (daemon/stage_photometry.h); 0: good */
} photdb_quality;

int photdb_quality_put(sqlite3 *db, const photdb_quality *q, char *err, size_t errlen);

/* -ENOENT when the group has none. */
int photdb_quality_get(sqlite3 *db, int64_t group_id, photdb_quality *ret, char *err,
		       size_t errlen);

/* A quality record and the name of its group (photdb_quality_list). */
typedef struct photdb_quality_entry {
	photdb_quality q;
	char group[32];         /* groups.name, "YYYY-MM-DDTHH:MM:SS" ("" if the group
				   row is gone) */
} photdb_quality_entry;

/* The quality records for operators (`contimgctl quality`), newest first (by
 * mjd, then group_id, descending): those with mjd >= since_mjd (NAN or
 * -INFINITY: all) and, when any_flags != 0, only those with a bit of
 * any_flags in flags (e.g. PHOT_QUAL_BAD: the failed ones); at most limit
 * rows (<= 0: all).  *ret is malloc'd (caller frees; NULL when *ret_n == 0).
 * -EIO with SQLite's message, -ENOMEM; *ret and *ret_n untouched on failure. */
int photdb_quality_list(sqlite3 *db, double since_mjd, unsigned any_flags, int limit,
			photdb_quality_entry **ret, size_t *ret_n, char *err, size_t errlen);

/* Noise and correction of up to `limit` good (flags = 0) epochs before
 * before_mjd, other than exclude_group, latest first (NAN for NULL). */
int photdb_quality_recent(sqlite3 *db, double before_mjd, int64_t exclude_group, int limit,
			  double *ret_noise, double *ret_corr, int *ret_n, char *err,
			  size_t errlen);

#endif
