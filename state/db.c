#include "state/db.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

/*
 * The schema, one migration per element.  Element i moves the database from
 * user_version i to i + 1.
 *
 * >>> OTHER HELPERS: APPEND your migration as a NEW ELEMENT AT THE END of this
 * >>> array ({ "owner: what it adds", "SQL; SQL; ..." }).  Never edit, reorder
 * >>> or remove an existing element: databases in the field already ran it.
 * >>> Use IF NOT EXISTS and foreign keys to groups(id) ON DELETE CASCADE where
 * >>> a row belongs to a group.
 *
 * Each table has one owner in state/ that holds all of its SQL; a label
 * below names the module of the day its migration was written.  Today: the
 * queue tables (groups, subband_files, stage_timings, group_events, products)
 * state/queue.c, read for contimgctl by state/report.c; daemon
 * state/heartbeat.c; caltables state/calreg.c; the photometry tables
 * state/photdb.c; flag_stats state/flagdb.c; images state/imagedb.c (read by
 * state/mosaicdb.c); mosaics state/mosaicdb.c; the pointing tables
 * state/pointingdb.c.
 */
static const struct db_migration {
	const char *what;
	const char *sql;
} migrations[] = {
	{ "daemon: queue (groups, subband files, stage timings, events, products, daemon)",
	  "CREATE TABLE groups ("
	  "  id INTEGER PRIMARY KEY,"
	  "  name TEXT NOT NULL UNIQUE,"            /* YYYY-MM-DDTHH:MM:SS of the earliest file */
	  "  t_first INTEGER NOT NULL,"             /* that timestamp, unix seconds (UTC) */
	  "  state TEXT NOT NULL CHECK (state IN"
	  "    ('collecting','pending','in_progress','completed','failed')),"
	  "  n_expected INTEGER NOT NULL,"
	  "  retries INTEGER NOT NULL DEFAULT 0,"
	  "  runs INTEGER NOT NULL DEFAULT 0,"      /* completed pipeline runs */
	  "  error TEXT,"
	  "  stage TEXT,"                           /* stage running now (in_progress) */
	  "  calibrated INTEGER NOT NULL DEFAULT 0,"
	  "  owner_pid INTEGER,"                    /* process running it (in_progress) */
	  "  not_before REAL NOT NULL DEFAULT 0,"   /* retry back-off, unix seconds */
	  "  created_at REAL NOT NULL,"
	  "  updated_at REAL NOT NULL,"
	  "  started_at REAL,"
	  "  finished_at REAL);"
	  "CREATE INDEX groups_state ON groups(state, t_first);"
	  "CREATE INDEX groups_t ON groups(t_first);"
	  "CREATE TABLE subband_files ("
	  "  id INTEGER PRIMARY KEY,"
	  "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	  "  path TEXT NOT NULL UNIQUE,"
	  "  subband INTEGER NOT NULL,"
	  "  ts INTEGER NOT NULL,"
	  "  size INTEGER,"
	  "  mtime REAL,"
	  "  status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok','bad','duplicate','late')),"
	  "  reason TEXT,"
	  "  added_at REAL NOT NULL);"
	  "CREATE INDEX subband_files_group ON subband_files(group_id, subband);"
	  "CREATE TABLE stage_timings ("
	  "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	  "  stage TEXT NOT NULL,"
	  "  seconds REAL NOT NULL,"
	  "  ok INTEGER NOT NULL,"
	  "  error TEXT,"
	  "  at REAL NOT NULL,"
	  "  PRIMARY KEY (group_id, stage));"
	  "CREATE TABLE group_events ("
	  "  id INTEGER PRIMARY KEY,"
	  "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	  "  at REAL NOT NULL,"
	  "  kind TEXT NOT NULL,"                   /* error, retry, requeue, recovered, missing ... */
	  "  stage TEXT,"
	  "  message TEXT);"
	  "CREATE INDEX group_events_group ON group_events(group_id, at);"
	  "CREATE TABLE products ("
	  "  id INTEGER PRIMARY KEY,"
	  "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	  "  name TEXT NOT NULL,"
	  "  path TEXT NOT NULL,"
	  "  created_at REAL NOT NULL,"
	  "  UNIQUE (group_id, name));"
	  "CREATE TABLE daemon ("
	  "  id INTEGER PRIMARY KEY CHECK (id = 1),"
	  "  pid INTEGER, started_at REAL, heartbeat_at REAL, status TEXT);" },
	{ "catalog: calibration-table registry (state/calreg.c)",
	  "CREATE TABLE IF NOT EXISTS caltables ("
	  "  id INTEGER PRIMARY KEY,"
	  "  type TEXT NOT NULL CHECK (type IN ('B','G','K')),"
	  "  path TEXT NOT NULL UNIQUE,"            /* re-registering a path updates the row */
	  "  calibrator TEXT NOT NULL DEFAULT '',"
	  "  source_group TEXT NOT NULL DEFAULT ''," /* groups.name it was solved from */
	  "  refant INTEGER NOT NULL DEFAULT -1,"
	  "  obs_mjd REAL NOT NULL,"                /* calibrator observation mid time (UTC MJD) */
	  "  valid_start_mjd REAL NOT NULL,"
	  "  valid_end_mjd REAL NOT NULL,"
	  "  created REAL NOT NULL,"                /* registration wall-clock time, unix seconds */
	  "  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','retired','failed')),"
	  "  flagged_fraction REAL,"
	  "  median_snr REAL,"
	  "  phase_scatter_deg REAL,"
	  "  CHECK (valid_end_mjd >= valid_start_mjd));"
	  "CREATE INDEX IF NOT EXISTS caltables_valid ON caltables(type, status, valid_start_mjd,"
	  "  valid_end_mjd);" },
	{ "phot: photometry, variability_stats, ese_candidates, reference_sources (state/photdb.c)",
	  "CREATE TABLE IF NOT EXISTS photometry ("
	  "  id INTEGER PRIMARY KEY,"
	  "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	  "  source TEXT NOT NULL,"                 /* catalog source name */
	  "  mjd REAL NOT NULL,"                    /* image mid time (UTC MJD) */
	  "  ra_deg REAL, dec_deg REAL,"
	  "  flux_jy REAL, flux_err_jy REAL,"       /* raw forced photometry on the pbcor image */
	  "  normalized_flux_jy REAL, normalized_flux_err_jy REAL,"
	  "  correction REAL, correction_err REAL," /* epoch flux-scale correction (raw / normalised) */
	  "  local_rms_jy REAL, pb REAL, chi2 REAL, npix INTEGER,"
	  "  forced_flags INTEGER NOT NULL DEFAULT 0,"  /* photometry/forced.h enum forced_flag */
	  "  norm_flags INTEGER NOT NULL DEFAULT 0,"    /* photometry/normalize.h enum norm_flag */
	  "  calibrated INTEGER NOT NULL DEFAULT 0,"
	  "  in_variability INTEGER NOT NULL DEFAULT 0," /* 1 once added to variability_stats */
	  "  UNIQUE (group_id, source));"
	  "CREATE INDEX IF NOT EXISTS photometry_source ON photometry(source, mjd);"
	  "CREATE TABLE IF NOT EXISTS variability_stats ("
	  "  source TEXT PRIMARY KEY,"
	  "  n INTEGER NOT NULL, mean REAL, std REAL, min REAL, max REAL, wmean REAL,"
	  "  chi2_nu REAL, eta REAL, v REAL, sigma_deviation REAL, vs REAL, m REAL,"
	  "  first_mjd REAL, last_mjd REAL,"
	  "  ese_score REAL,"                       /* NULL: not enough epochs */
	  "  state BLOB NOT NULL,"                  /* the running sums (photometry/variability.h) */
	  "  updated_at REAL NOT NULL);"
	  "CREATE TABLE IF NOT EXISTS ese_candidates ("
	  "  source TEXT PRIMARY KEY,"
	  "  score REAL NOT NULL,"
	  "  status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new','investigated','dismissed')),"
	  "  note TEXT, decided_at REAL,"           /* human decision: never overwritten by updates */
	  "  n INTEGER, chi2_nu REAL, eta REAL, v REAL,"
	  "  amplitude REAL, timescale_days REAL, asymmetry REAL,"
	  "  f0 REAL, t0_mjd REAL, t_days REAL, alpha REAL, src_size REAL,"
	  "  created_at REAL NOT NULL, updated_at REAL NOT NULL);"
	  "CREATE TABLE IF NOT EXISTS reference_sources ("
	  "  source TEXT PRIMARY KEY,"
	  "  snr REAL,"
	  "  nbase INTEGER NOT NULL DEFAULT 0,"
	  "  base_flux BLOB,"                       /* nbase doubles: the raw baseline epochs */
	  "  baseline REAL,"
	  "  retired INTEGER NOT NULL DEFAULT 0,"
	  "  retired_mjd REAL, retire_chi2_nu REAL,"
	  "  updated_at REAL NOT NULL);" },
	{ "calib: flag_stats, flagged fractions per group (daemon/stage_flag.c)",
	  "CREATE TABLE IF NOT EXISTS flag_stats ("
	  "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	  "  kind TEXT NOT NULL CHECK (kind IN ('total','reason','antenna','channel')),"
	  "  key TEXT NOT NULL,"                    /* '' (total), reason name, antenna name, channel index */
	  "  freq_hz REAL,"                         /* channel rows: the channel's centre */
	  "  fraction REAL NOT NULL,"               /* of the cross-correlation samples */
	  "  PRIMARY KEY (group_id, kind, key));" },
	{ "imaging: images (daemon/stage_image.c)",
	  "CREATE TABLE IF NOT EXISTS images ("
	  "  id INTEGER PRIMARY KEY,"
	  "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	  "  path TEXT NOT NULL UNIQUE,"            /* the FITS file */
	  "  pbcor INTEGER NOT NULL DEFAULT 0,"     /* 1: primary-beam corrected image */
	  "  bmaj_arcsec REAL, bmin_arcsec REAL, bpa_deg REAL," /* restoring beam */
	  "  noise_jy REAL,"                        /* 1.4826 MAD of the residual */
	  "  peak_jy REAL, dynamic_range REAL,"
	  "  ra_deg REAL, dec_deg REAL,"            /* ICRS centre */
	  "  nx INTEGER, ny INTEGER, cell_arcsec REAL,"
	  "  freq_hz REAL, bandwidth_hz REAL,"      /* weighted mean frequency, total bandwidth */
	  "  integration_s REAL,"                   /* integrations x integration time */
	  "  mjd_obs REAL,"                         /* UTC start */
	  "  calibrated INTEGER NOT NULL DEFAULT 0,"
	  "  niter INTEGER, nmajor INTEGER, weighting TEXT,"
	  "  created_at REAL NOT NULL);"
	  "CREATE INDEX IF NOT EXISTS images_group ON images(group_id);" },
	{ "mosaic: mosaics (state/mosaicdb.c)",
	  "CREATE TABLE IF NOT EXISTS mosaics ("
	  "  id INTEGER PRIMARY KEY,"
	  "  name TEXT NOT NULL,"
	  "  path TEXT NOT NULL UNIQUE,"            /* the mosaic FITS file; rebuilding updates the row */
	  "  weight_path TEXT, noise_path TEXT,"    /* sum of pb^2/sigma^2; 1/sqrt of it */
	  "  created REAL NOT NULL,"                /* wall-clock, unix seconds */
	  "  t_start_mjd REAL NOT NULL, t_end_mjd REAL NOT NULL," /* the requested window (UTC) */
	  "  ntiles INTEGER NOT NULL,"
	  "  ra_deg REAL, dec_deg REAL,"            /* ICRS centre of the SIN grid */
	  "  nx INTEGER, ny INTEGER, cell_arcsec REAL,"
	  "  groups TEXT NOT NULL DEFAULT '',"      /* comma-separated groups.name of the tiles */
	  "  CHECK (t_end_mjd >= t_start_mjd));"
	  "CREATE INDEX IF NOT EXISTS mosaics_t ON mosaics(t_start_mjd);" },
	{ "pointing: pointing_overrides, group_pointing (state/pointingdb.c)",
	  "CREATE TABLE IF NOT EXISTS pointing_overrides ("
	  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"  /* never reused: logs and events name ids */
	  "  start_mjd REAL NOT NULL,"              /* UTC, inclusive */
	  "  end_mjd REAL,"                         /* UTC, exclusive; NULL = open */
	  "  dec_deg REAL NOT NULL CHECK (dec_deg BETWEEN -90 AND 90)," /* apparent, of date */
	  "  note TEXT NOT NULL DEFAULT '',"
	  "  created_at REAL NOT NULL,"
	  "  CHECK (end_mjd IS NULL OR end_mjd > start_mjd));"
	  "CREATE INDEX IF NOT EXISTS pointing_overrides_t ON pointing_overrides(start_mjd);"
	  "CREATE TABLE IF NOT EXISTS group_pointing ("
	  "  group_id INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,"
	  "  mid_mjd REAL NOT NULL,"                /* the group's mid time (UTC) */
	  "  file_dec_deg REAL,"                    /* the files' phase_center_dec; NULL: none */
	  "  dec_deg REAL NOT NULL,"                /* the pointing used for the beam */
	  "  source TEXT NOT NULL CHECK (source IN ('file','override')),"
	  "  override_id INTEGER REFERENCES pointing_overrides(id) ON DELETE SET NULL,"
	  "  qa_status TEXT,"                       /* NULL: not checked; ok, warn, too_few, degenerate */
	  "  qa_offset_deg REAL, qa_offset_err_deg REAL, qa_significance REAL,"
	  "  qa_scale REAL, qa_chi2_nu REAL,"
	  "  qa_nsources INTEGER, qa_nnorth INTEGER, qa_nsouth INTEGER, qa_nclipped INTEGER,"
	  "  updated_at REAL NOT NULL);"
	  "CREATE INDEX IF NOT EXISTS group_pointing_t ON group_pointing(mid_mjd);" },
	{ "ingest: groups.stale, a file a finished run used changed since (state/queue.c)",
	  "ALTER TABLE groups ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;"
	  "CREATE INDEX IF NOT EXISTS groups_stale ON groups(stale) WHERE stale != 0;" },
	{ "queue: owner identity of an in_progress group (state/queue.c)",
	  "ALTER TABLE groups ADD COLUMN owner_boot TEXT;"   /* the owner's boot id (NULL: unknown) */
	  "ALTER TABLE groups ADD COLUMN owner_start INTEGER;" }, /* its start, ticks since boot */
	{ "alerts: ese_candidates fit details and vetting context, the alerts table "
	  "(state/photdb.c, state/alertdb.c)",
	  "ALTER TABLE ese_candidates ADD COLUMN ongoing INTEGER NOT NULL DEFAULT 0;"
	  "ALTER TABLE ese_candidates ADD COLUMN best_alt TEXT;"       /* ese_alt_name() */
	  "ALTER TABLE ese_candidates ADD COLUMN alt_evidence REAL;"   /* summed BIC weight */
	  "ALTER TABLE ese_candidates ADD COLUMN dbic REAL;"           /* BIC(best alt) - BIC(lens) */
	  "ALTER TABLE ese_candidates ADD COLUMN duration_days REAL;"  /* D, quarter-depth width */
	  "ALTER TABLE ese_candidates ADD COLUMN lensed_fraction REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN n_event INTEGER;"
	  "ALTER TABLE ese_candidates ADD COLUMN n_ingress INTEGER;"
	  "ALTER TABLE ese_candidates ADD COLUMN n_egress INTEGER;"
	  "ALTER TABLE ese_candidates ADD COLUMN n_base INTEGER;"
	  "ALTER TABLE ese_candidates ADD COLUMN s_evid REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN s_depth REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN s_time REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN s_epochs REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN s_sig REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN s_quiet REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN last_mjd REAL;"       /* the epoch of the last fit */
	  "ALTER TABLE ese_candidates ADD COLUMN first_crossed_mjd REAL;" /* epoch of the first */
	  "ALTER TABLE ese_candidates ADD COLUMN first_crossed_at REAL;"  /* crossing; unix s */
	  "ALTER TABLE ese_candidates ADD COLUMN ra_deg REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN dec_deg REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN pb REAL;"             /* in the latest image */
	  "ALTER TABLE ese_candidates ADD COLUMN cat_flux_mjy REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN cat_resolved INTEGER;"
	  "ALTER TABLE ese_candidates ADD COLUMN cat_confused INTEGER;"
	  "ALTER TABLE ese_candidates ADD COLUMN cat_major_arcsec REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN bright_source TEXT;"  /* nearest bright neighbour */
	  "ALTER TABLE ese_candidates ADD COLUMN bright_sep_deg REAL;"
	  "ALTER TABLE ese_candidates ADD COLUMN bright_flux_mjy REAL;"
	  "CREATE TABLE IF NOT EXISTS alerts ("
	  "  id INTEGER PRIMARY KEY,"
	  "  ivorn TEXT NOT NULL UNIQUE,"           /* one per source, kind and event */
	  "  source TEXT NOT NULL,"
	  "  kind TEXT NOT NULL CHECK (kind IN ('candidate','ongoing')),"
	  "  event_start_mjd REAL NOT NULL, event_end_mjd REAL NOT NULL," /* t0 -/+ D/2 */
	  "  t0_mjd REAL, mjd REAL NOT NULL,"       /* event centre; the epoch that alerted */
	  "  group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,"
	  "  score REAL NOT NULL, depth REAL, duration_days REAL,"
	  "  ongoing INTEGER NOT NULL DEFAULT 0,"
	  "  ra_deg REAL, dec_deg REAL, flux_jy REAL, f0_jy REAL,"
	  "  best_alt TEXT, dbic REAL, alt_evidence REAL,"
	  "  cites TEXT,"                           /* ivorn of this event's earlier alert */
	  "  path TEXT,"                            /* the VOEvent file */
	  "  xml TEXT,"                             /* its text (re-written if the file is lost) */
	  "  created_at REAL NOT NULL,"
	  "  sent_at REAL);"                        /* NULL until the file and journal entry exist */
	  "CREATE INDEX IF NOT EXISTS alerts_source ON alerts(source, kind);"
	  "CREATE INDEX IF NOT EXISTS alerts_created ON alerts(created_at);" },
	{ "queue: groups.claim, a number that changes with every claim, so a run taken away by"
	  " requeue --force cannot record its end over a later claim (state/queue.c)",
	  "ALTER TABLE groups ADD COLUMN claim INTEGER NOT NULL DEFAULT 0;" },
	{ "housekeeping: retention_removed, daemon.paused (state/housedb.c, state/heartbeat.c)",
	  "CREATE TABLE IF NOT EXISTS retention_removed ("
	  "  path TEXT PRIMARY KEY,"                /* the file as registered */
	  "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	  "  kind TEXT NOT NULL CHECK (kind IN ('raw','product')),"
	  "  name TEXT,"                            /* sbNN or the product's name */
	  "  bytes INTEGER,"
	  "  action TEXT NOT NULL CHECK (action IN ('delete','move')),"
	  "  dest TEXT,"                            /* a moved file's new path */
	  "  at REAL NOT NULL);"                    /* unix seconds */
	  "CREATE INDEX IF NOT EXISTS retention_removed_group ON retention_removed(group_id);"
	  /* Retention asks, per candidate group, whether tables were solved from it. */
	  "CREATE INDEX IF NOT EXISTS caltables_source_group ON caltables(source_group);"
	  "ALTER TABLE daemon ADD COLUMN paused TEXT;" }, /* the free-space guard's reason; NULL: running */
	{ "epochs: epoch_quality, one quality record per image (state/photdb.c, issue 17)",
	  "CREATE TABLE IF NOT EXISTS epoch_quality ("
	  "  group_id INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,"
	  "  mjd REAL NOT NULL,"
	  "  noise_jy REAL, noise_ratio REAL, dynamic_range REAL,"
	  "  correction REAL, correction_z REAL, clipped_frac REAL, flagged_frac REAL,"
	  "  nref INTEGER NOT NULL DEFAULT 0,"
	  "  flags INTEGER NOT NULL DEFAULT 0);"  /* daemon/stage_photometry.h PHOT_QUAL_* */
	  "CREATE INDEX IF NOT EXISTS epoch_quality_mjd ON epoch_quality(mjd);" },
	{ "phot: photometry_subband, photometry_spindex, ese_subband (state/photdb_band.c)",
	  "CREATE TABLE IF NOT EXISTS photometry_subband ("
	  "  group_id INTEGER NOT NULL, source TEXT NOT NULL, subband INTEGER NOT NULL,"
	  "  mjd REAL NOT NULL, freq_hz REAL NOT NULL, flux_jy REAL, flux_err_jy REAL,"
	  "  local_rms_jy REAL, pb REAL, forced_flags INTEGER NOT NULL DEFAULT 0,"
	  "  correction REAL,"
	  "  PRIMARY KEY (group_id, source, subband));"
	  "CREATE INDEX IF NOT EXISTS photometry_subband_src ON photometry_subband(source, mjd);"
	  "CREATE TABLE IF NOT EXISTS photometry_spindex ("
	  "  group_id INTEGER NOT NULL, source TEXT NOT NULL, mjd REAL NOT NULL,"
	  "  alpha REAL, alpha_err REAL, s0_jy REAL, nu0_hz REAL, chi2 REAL,"
	  "  npoints INTEGER NOT NULL, PRIMARY KEY (group_id, source));"
	  "CREATE INDEX IF NOT EXISTS photometry_spindex_src ON photometry_spindex(source, mjd);"
	  "CREATE TABLE IF NOT EXISTS ese_subband ("
	  "  source TEXT PRIMARY KEY, n INTEGER NOT NULL, nsub INTEGER NOT NULL,"
	  "  decisive INTEGER NOT NULL, consistency REAL, dchi2 REAL,"
	  "  chi2_chromatic REAL, chi2_achromatic REAL, lens_alpha REAL, t0_mjd REAL,"
	  "  t_days REAL, ref_freq_hz REAL, updated_at REAL NOT NULL);" },
	{ "noise: the radiometer expectation of an image from its own visibilities "
	  "(images.expected_noise_jy, vis_sigma_unit, noise_method; epoch_quality."
	  "expected_noise_jy, radiometer_ratio; imaging/noise.h, issue 17)",
	  "ALTER TABLE images ADD COLUMN expected_noise_jy REAL;"  /* Jy/beam; NULL: no estimate */
	  "ALTER TABLE images ADD COLUMN vis_sigma_unit REAL;"     /* σ of Re I at data weight 1 */
	  "ALTER TABLE images ADD COLUMN noise_method TEXT;"       /* poldiff, timediff, none */
	  "ALTER TABLE epoch_quality ADD COLUMN expected_noise_jy REAL;"
	  "ALTER TABLE epoch_quality ADD COLUMN radiometer_ratio REAL;" }, /* noise / expected */
	/* >>> append new migrations above this line <<< */
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int db_schema_version(void)
{
	return NMIGRATIONS;
}

int db_path(const char *state_dir, char *buf, size_t buflen)
{
	int n = snprintf(buf, buflen, "%s/%s", state_dir, DB_FILE_NAME);
	return n < 0 || (size_t)n >= buflen ? -ENAMETOOLONG : 0;
}

void db_close(sqlite3 *db)
{
	if (db)
		sqlite3_close_v2(db);
}

/* A full disk (SQLITE_FULL, "database or disk is full") is -ENOSPC, so the
 * callers can tell it from a broken database: running out of space must not
 * count against a group's retries (daemon/housekeeping.h). */
static int fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	int code = db && (sqlite3_errcode(db) & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
	return err_set(err, errlen, code, "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
}

static int bind_va(sqlite3 *db, sqlite3_stmt *st, const char *fmt, va_list ap, char *err,
		   size_t errlen)
{
	int k = 1, rc = SQLITE_OK;

	for (const char *f = fmt ? fmt : ""; *f; f++, k++) {
		switch (*f) {
		case 'i': rc = sqlite3_bind_int(st, k, va_arg(ap, int)); break;
		case 'I': rc = sqlite3_bind_int64(st, k, va_arg(ap, int64_t)); break;
		case 'd': rc = sqlite3_bind_double(st, k, va_arg(ap, double)); break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			rc = s ? sqlite3_bind_text(st, k, s, -1, SQLITE_TRANSIENT)
			       : sqlite3_bind_null(st, k);
			break;
		}
		case 'n': rc = sqlite3_bind_null(st, k); break;
		default:
			return err_set(err, errlen, -EINVAL, "db: bad bind format '%c'", *f);
		}
		if (rc != SQLITE_OK)
			return fail(db, err, errlen, "bind");
	}
	return 0;
}

static int prepare_va(sqlite3 *db, char *err, size_t errlen, sqlite3_stmt **ret, const char *sql,
		      const char *fmt, va_list ap)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(db, err, errlen, sql);
	r = bind_va(db, st, fmt, ap, err, errlen);
	if (r < 0) {
		sqlite3_finalize(st);
		return r;
	}
	*ret = st;
	return 0;
}

int db_prepare(sqlite3 *db, char *err, size_t errlen, sqlite3_stmt **ret, const char *sql,
	       const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = prepare_va(db, err, errlen, ret, sql, fmt, ap);
	va_end(ap);
	return r;
}

int db_exec(sqlite3 *db, char *err, size_t errlen, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int r, rc;

	va_start(ap, fmt);
	r = prepare_va(db, err, errlen, &st, sql, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		r = fail(db, err, errlen, sql);
	else
		r = sqlite3_changes(db);
	sqlite3_finalize(st);
	return r;
}

int db_query_int(sqlite3 *db, int64_t *ret, char *err, size_t errlen, const char *sql,
		 const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int r, rc;

	va_start(ap, fmt);
	r = prepare_va(db, err, errlen, &st, sql, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		r = 1;
	} else if (rc == SQLITE_DONE) {
		r = 0;
	} else {
		r = fail(db, err, errlen, sql);
	}
	sqlite3_finalize(st);
	return r;
}

int db_begin(sqlite3 *db, char *err, size_t errlen)
{
	const char *sql = sqlite3_get_autocommit(db) ? "BEGIN IMMEDIATE" : "SAVEPOINT db_nest";
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, err, errlen, sql);
	return 0;
}

int db_end(sqlite3 *db, int ok, char *err, size_t errlen)
{
	/* An open savepoint inside a BEGIN means we are nested: release or roll
	 * back just that level.  SQLite has no way to ask for the nesting depth,
	 * so try the savepoint first and fall back to the outer transaction. */
	if (sqlite3_get_autocommit(db))
		return err_set(err, errlen, -EIO, "db_end without db_begin");
	if (ok) {
		if (sqlite3_exec(db, "RELEASE db_nest", NULL, NULL, NULL) == SQLITE_OK)
			return 0;
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			int r = fail(db, err, errlen, "COMMIT");
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
		return 0;
	}
	if (sqlite3_exec(db, "ROLLBACK TO db_nest", NULL, NULL, NULL) == SQLITE_OK) {
		sqlite3_exec(db, "RELEASE db_nest", NULL, NULL, NULL);
		return 0;
	}
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return 0;
}

static int configure(sqlite3 *db, int readonly, char *err, size_t errlen)
{
	sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	if (!readonly && sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, err, errlen, "PRAGMA journal_mode=WAL");
	if (sqlite3_exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL", NULL, NULL,
			 NULL) != SQLITE_OK)
		return fail(db, err, errlen, "PRAGMA foreign_keys");
	return 0;
}

static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int64_t v = 0;
	int r;

	for (;;) {
		char *msg = NULL;

		r = db_begin(db, err, errlen);
		if (r < 0)
			return r;
		/* Re-read the version inside the write lock: another process may have
		 * migrated while we waited for it. */
		r = db_query_int(db, &v, err, errlen, "PRAGMA user_version", NULL);
		if (r < 0)
			goto fail;
		if (v > NMIGRATIONS) {
			r = err_set(err, errlen, -EPROTO,
				    "%s: schema version %lld is newer than this program's (%d)",
				    path, (long long)v, NMIGRATIONS);
			goto fail;
		}
		if (v == NMIGRATIONS) {
			db_end(db, 1, NULL, 0);
			return 0;
		}
		if (sqlite3_exec(db, migrations[v].sql, NULL, NULL, &msg) != SQLITE_OK) {
			r = err_set(err, errlen, -EIO, "%s: migration %lld (%s): %s", path,
				    (long long)v + 1, migrations[v].what, msg ? msg : "?");
			sqlite3_free(msg);
			goto fail;
		}
		/* PRAGMA cannot take a bound parameter; v is our own integer. */
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", (long long)v + 1);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			r = fail(db, err, errlen, sql);
			goto fail;
		}
		r = db_end(db, 1, err, errlen);
		if (r < 0)
			return r;
	}
fail:
	db_end(db, 0, NULL, 0);
	return r;
}

static int open_common(const char *path, int flags, int readonly, sqlite3 **ret, char *err,
		       size_t errlen)
{
	sqlite3 *db = NULL;
	int r;

	if (!(flags & (SQLITE_OPEN_CREATE | SQLITE_OPEN_URI)) && access(path, F_OK) != 0)
		return err_set(err, errlen, -ENOENT, "%s: no state database", path);
	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		r = err_set(err, errlen, -EIO, "%s: %s", path,
			    db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	r = configure(db, readonly, err, errlen);
	if (r < 0)
		goto out;
	if (!readonly) {
		r = migrate(db, path, err, errlen);
		if (r < 0)
			goto out;
	} else {
		int64_t v = 0;
		r = db_query_int(db, &v, err, errlen, "PRAGMA user_version", NULL);
		if (r < 0) {
			err_prefix(err, errlen, "%s", path);
			goto out;
		}
		r = 0;
	}
	*ret = db;
	db = NULL;
out:
	db_close(db);
	return r;
}

int db_open(const char *path, int create, sqlite3 **ret, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);

	/* SQLite would open a file it cannot write read-only and fail at the
	 * first write with "attempt to write a readonly database": say so at
	 * once, and why (no permission, or a read-only mount). */
	if (access(path, F_OK) == 0 && access(path, W_OK) != 0) {
		int e = errno == EROFS ? EROFS : EACCES;
		return err_set(err, errlen, -e,
			       "%s: not writable by this user (%s); read commands work, this one "
			       "needs write access", path, strerror(e));
	}
	return open_common(path, flags, 0, ret, err, errlen);
}

/* The directory holding path ("." when none) is writable by this process. */
static int dir_writable(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (!slash)
		return access(".", W_OK) == 0;
	snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	return access(dir, W_OK) == 0;
}

/* "file:" URI of path with immutable=1 (RFC 3986 escapes for the characters
 * SQLite's URI parser treats specially). */
static int immutable_uri(const char *path, char *buf, size_t len)
{
	size_t n = 0;
	int k = snprintf(buf, len, "file:");

	if (k < 0 || (size_t)k >= len)
		return -ENAMETOOLONG;
	n = (size_t)k;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (n + 4 >= len)
			return -ENAMETOOLONG;
		if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 || *p >= 0x7f)
			n += (size_t)snprintf(buf + n, len - n, "%%%02X", *p);
		else
			buf[n++] = (char)*p;
	}
	k = snprintf(buf + n, len - n, "?mode=ro&immutable=1");
	return k < 0 || (size_t)k >= len - n ? -ENAMETOOLONG : 0;
}

int db_open_readonly(const char *path, sqlite3 **ret, char *err, size_t errlen)
{
	return db_open_readonly_ex(path, ret, NULL, err, errlen);
}

int db_open_readonly_ex(const char *path, sqlite3 **ret, int *ret_immutable, char *err,
			size_t errlen)
{
	char uri[8192], e2[512];
	int r = open_common(path, SQLITE_OPEN_READONLY, 1, ret, err, errlen);

	if (ret_immutable)
		*ret_immutable = 0;

	/* A WAL database needs its -shm file (and -wal) to be read.  While a
	 * writer (contimgd) has it open they exist, and SQLite (>= 3.22) reads
	 * through a -shm it may not write.  When no writer is left they are
	 * gone, and a reader that cannot create them — no write permission on
	 * state_dir, a read-only mount — gets SQLITE_CANTOPEN.  Then, and only
	 * then, the file is opened immutable=1: no locks, no -shm, the main file
	 * as it is, which is the whole database exactly when no -wal with
	 * commits is left and no writer starts during the read (docs/
	 * operations.md "Giving astronomers read access"). */
	if (r != -EIO || dir_writable(path) || access(path, R_OK) != 0)
		return r;
	{
		char wal[4200];
		struct stat st;
		snprintf(wal, sizeof wal, "%s-wal", path);
		if (stat(wal, &st) == 0 && st.st_size > 0)
			return r; /* commits not in the main file: immutable would hide them */
	}
	if (immutable_uri(path, uri, sizeof uri) < 0)
		return r;
	snprintf(e2, sizeof e2, "%s", err ? err : "");
	{
		char e3[512] = "";
		r = open_common(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, 1, ret, e3, sizeof e3);
		if (r < 0)
			err_set(err, errlen, r, "%s (and read-only immutable: %s)", e2, e3);
		else if (ret_immutable)
			*ret_immutable = 1;
	}
	return r;
}

void db_bind_real_or_null(sqlite3_stmt *st, int i, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

double db_column_real_or_nan(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

void db_column_text(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	snprintf(dst, len, "%s", s ? (const char *)s : "");
}

int db_column_strdup(sqlite3_stmt *st, int i, char **ret)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	char *d = NULL;

	if (s && !(d = strdup((const char *)s)))
		return -ENOMEM;
	*ret = d;
	return 0;
}

/* The step-and-grow loop every list query needs, once. */
int db_rows(sqlite3_stmt *st, const db_row_type *type, void *arg, void **ret_rows,
	    size_t *ret_n, const char *what, char *err, size_t errlen)
{
	sqlite3 *db = sqlite3_db_handle(st);
	char *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			char *nv = realloc(v, nc * type->size);
			if (!nv) {
				r = err_set(err, errlen, -ENOMEM, "%s: out of memory", what);
				goto out;
			}
			v = nv;
			cap = nc;
		}
		char *row = v + n * type->size;
		memset(row, 0, type->size);
		r = type->read(st, row, arg, err, errlen);
		if (r > 0)
			n++;
		else if (type->release)
			type->release(row); /* skipped, or partly read before an error */
		if (r < 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = err_set(err, errlen, -EIO, "%s: %s", what, sqlite3_errmsg(db));
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	if (r < 0) {
		for (size_t i = 0; type->release && i < n; i++)
			type->release(v + i * type->size);
		free(v);
		return r;
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*ret_rows = v;
	*ret_n = n;
	return 0;
}
