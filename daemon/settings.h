/*
 * daemon/settings.h — the one configuration: every section of the INI file
 * parsed and validated once, into typed settings the stages read.
 *
 * contimgd builds a contimg_config at start-up (refusing to start when it
 * cannot) and on SIGHUP (a bad file keeps the old one); `contimgctl process`
 * builds one after its command-line overrides; `contimgd --check-config` and
 * `contimgctl config check` build one and report.  A stage reads its own
 * settings from ctx->conf (daemon/pipe_ctx.h), never the raw cfg.
 *
 * Building one does, in order:
 *   1. refuses every section and key no reader knows (settings.c's table
 *      of every section and its keys, docs/config.md),
 *      "FILE:LINE: [section] key: unknown key (did you mean 'k'?)";
 *   2. runs each part's parser (settings.c's list, in order: [paths]/
 *      [ingest]/[pipeline]/[earth] by pipe_settings_read, then [log],
 *      [debug], [catalog], [site], [mosaic], and each stage's own function
 *      living beside the stage: stage_flag_settings, stage_calibrate_settings,
 *      stage_image_settings, phot_settings_read, pointing_settings_read).
 * Adding a stage's section: a keys row and a parser row in settings.c, the
 * settings struct here, the function beside the stage.
 * Every problem found is reported, one line each, "FILE:LINE: [section] key:
 * reason" where the value has a line (a cfg_set override has none, an
 * environment override says "$CONTIMG_SECTION_KEY: ").
 *
 * A contimg_config is immutable once built and reference-counted like a cfg:
 * a worker running a group keeps its reference across a reload.
 */
#ifndef CONTIMG_SETTINGS_H
#define CONTIMG_SETTINGS_H

#include <stdatomic.h>
#include <stddef.h>

#include "calib/calsel.h"
#include "calib/flag.h"
#include "calib/solve.h"
#include "core/config.h"
#include "daemon/alert.h"
#include "daemon/earth.h"
#include "daemon/housekeeping.h"
#include "daemon/pointing.h"
#include "daemon/stage_photometry.h"
#include "imaging/image.h"
#include "state/queue.h"

/* The settings contimgd and contimgctl share ([paths], [ingest], [pipeline]),
 * read once from a cfg with every documented default (docs/config.md). */
typedef struct pipe_settings {
	char ingest_dir[4096], state_dir[4096], products_dir[4096], scratch_dir[4096];
	char db_path[4200];          /* state_dir/contimg.sqlite */
	queue_params q;              /* subbands, group_tolerance_s, min_subbands, max_retries,
					retry_delay_s */
	double collect_timeout_s;    /* [ingest] collect_timeout_s (600) */
	double rescan_interval_s;    /* [ingest] rescan_interval_s (60) */
	double settle_s;             /* [ingest] settle_s (10): rescans take files unchanged this long */
	double poll_interval_s;      /* [ingest] poll_interval_s (5): idle workers look for work */
	int workers;                 /* [ingest] workers (1) */
	int threads;                 /* [pipeline] threads (0 = all online CPUs) */
	int export_vis;              /* [pipeline] export_vis (false) */
	earth_settings earth;        /* [earth] eop_file, eop_max_age_days, xp_arcsec, yp_arcsec
					and the [pipeline] dut1_s override (|dut1_s| < 1 s) */
	double uvw_tolerance_arcsec; /* [pipeline] uvw_tolerance_arcsec (1): warn when the
					centre uvw_array implies is further from the header's */
	char x_orientation[8];       /* [pipeline] x_orientation ("" = unknown, not written) */
	double stop_grace_s;         /* [pipeline] stop_grace_s (120) */
	double stall_timeout_s;      /* [pipeline] stall_timeout_s (900) */
	char stages[512];            /* [pipeline] stages: the subset of the table to run
					("" = every stage; checked against the table) */
} pipe_settings;

/* Fill s from c; -EINVAL with "[section] key ..." in err for a malformed or
 * out-of-range value.  Defined in daemon/pipeline.c, beside the table it
 * checks [pipeline] stages against. */
int pipe_settings_read(const cfg *c, pipe_settings *s, char *err, size_t errlen);

#define SETTINGS_MAX_STATIONS FLAG_MAX_LIST /* station names in one list key */

/* [flag] (daemon/stage_flag.c).  Station names are mapped to the group's
 * antenna numbers when the stage runs (a configured station may be absent). */
typedef struct flag_settings {
	flag_params p;                 /* every key; bad_ants empty, nthreads 0 */
	int nbad_stations;
	int bad_stations[SETTINGS_MAX_STATIONS]; /* bad_antennas: station names */
	double max_flagged_fraction;   /* (0.8), 0 < x <= 1 */
} flag_settings;

/* Parse [flag] into s.  -EINVAL with "FILE:LINE: [flag] key ..." in err. */
int stage_flag_settings(const cfg *c, flag_settings *s, char *err, size_t errlen);

/* [calibrate] (daemon/stage_calibrate.c). */
typedef struct cal_settings {
	solve_params sp;               /* solver keys; refants empty, nthreads 0 */
	int nrefant_stations;
	int refant_stations[SETTINGS_MAX_STATIONS]; /* refants: station names, ranked */
	int do_k, apply;
	calsel_params cal;             /* cal_min_flux_jy, cal_radius_deg, cal_beam_level,
					  cal_beam_freq_hz (defaults calib/calsel.h); dish_m
					  is the data's when it has one */
	double model_radius_deg, model_min_flux_mjy, default_alpha;
	double b_valid_h, g_valid_h, k_valid_h;
	double max_solution_flagged;
	char caltables_dir[4096];      /* [calibrate] caltables_dir, else products_dir/caltables */
} cal_settings;

/* Parse [calibrate] into s (ps: the [paths] already parsed). */
int stage_calibrate_settings(const cfg *c, const pipe_settings *ps, cal_settings *s,
			     char *err, size_t errlen);

/* [image] (daemon/stage_image.c). */
typedef struct image_settings {
	image_params p;                /* stage_image_params(); nthreads, pool and the
					  Earth orientation are the group's */
	int chan_avg_set;              /* chan_avg given: it wins over avg_width_mhz */
	double avg_width_mhz;          /* (1.953125), >= 0 */
	char fftw_wisdom[4200];        /* the wisdom file; "" = none */
	int quicklook_png;             /* (1) write quicklook.png at the end of the stage */
	int quicklook_px;              /* (1024) its longest side, 64..8192 */
} image_settings;

/* Parse [image] into s (ps: [paths] state_dir, the wisdom file's home). */
int stage_image_settings(const cfg *c, const pipe_settings *ps, image_settings *s, char *err,
			 size_t errlen);

/* [site] for `contimgctl transits` (the pipeline uses the files' position). */
typedef struct site_settings {
	double lat_deg, lon_deg, alt_m; /* (37.2339, -118.2825, 1222) */
} site_settings;

/* [mosaic] for `contimgctl mosaic build` (validated here, read there). */
typedef struct mosaic_settings {
	double cell_arcsec;            /* (0 = finest tile cell), >= 0 */
	double pb_cut;                 /* (0.2), 0 < x < 1 */
	int max_size;                  /* (16384), >= 16 */
	char dir[4096];                /* "" = products_dir/mosaics */
} mosaic_settings;

/* [metrics] (daemon/metrics.h): the node_exporter textfile contimgd rewrites. */
typedef struct metrics_settings {
	char textfile[4096];           /* "" = off (default) */
	double interval_s;             /* (30), >= 1 */
} metrics_settings;

typedef struct contimg_config {
	atomic_int refs;
	cfg *cfg;                      /* the store it was built from (a reference) */
	pipe_settings pipe;            /* [paths] [ingest] [pipeline] [earth] */
	int log_level;                 /* [log] level (info) as a syslog level */
	double stage_delay_s;          /* [debug] stage_delay_s (0): fault injection */
	int crash_at_step;             /* [debug] crash_at_step (0 = off, else an FSX_* step of
					  core/fsx.h): fault injection */
	double eop_check_s;            /* [debug] eop_check_s (EARTH_CHECK_S) */
	char catalog_path[4200];       /* [catalog] path, else state_dir/catalog.sqlite */
	site_settings site;
	mosaic_settings mosaic;
	flag_settings flag;
	cal_settings calibrate;
	image_settings image;
	phot_settings phot;            /* catalog_path = the one above */
	pointing_settings pointing;
	alert_settings alerts;         /* [alerts] (daemon/alert.h) */
	house_settings house;          /* [housekeeping] (daemon/housekeeping.h) */
	metrics_settings metrics;      /* [metrics] */
} contimg_config;

/* Build the configuration from c (a reference is taken).  Returns 0 and a new
 * contimg_config with one reference in *ret, or -EINVAL with every problem in
 * err (one line each), -ENOMEM.  *ret is untouched on failure. */
/* One part's parser: fills its part of *o from c; -EINVAL with "[section]
 * key: reason" in err.  The stages' (settings_flag ... settings_photometry,
 * adapters to the functions beside each stage) are the settings slot of
 * their rows in daemon/pipeline.c's table. */
typedef int (*settings_parser)(const cfg *c, contimg_config *o, char *err, size_t errlen);
int settings_flag(const cfg *c, contimg_config *o, char *err, size_t errlen);
int settings_calibrate(const cfg *c, contimg_config *o, char *err, size_t errlen);
int settings_image(const cfg *c, contimg_config *o, char *err, size_t errlen);
int settings_photometry(const cfg *c, contimg_config *o, char *err, size_t errlen);

int contimg_config_new(const cfg *c, contimg_config **ret, char *err, size_t errlen);

/* Fault injection ([debug] stage_delay_s > 0, crash_at_step set) is refused
 * ("[debug] key: fault injection is refused without contimgd
 * --enable-fault-injection") wherever the value comes from, unless the
 * program allowed it before building its configuration: only contimgd does,
 * when started with --enable-fault-injection (the integration tests; the
 * systemd unit never passes it).  Off by default. */
void contimg_config_allow_faults(int on);

/* cfg_load(path) then contimg_config_new.  missing_ok: an absent file gives
 * the defaults (contimgctl's default path).  -ENOENT when the file is absent
 * and !missing_ok, the parse errors of cfg_load, or contimg_config_new's. */
int contimg_config_load(const char *path, int missing_ok, contimg_config **ret, char *err,
			size_t errlen);

contimg_config *contimg_config_ref(const contimg_config *c);
void contimg_config_free(const contimg_config *c); /* drops a reference; NULL ok */

/* The known sections and keys (the table of settings.c), for tests and
 * `contimgctl config check --json`. */
const cfg_known *contimg_config_known(size_t *ret_n);

#endif
