/*
 * daemon/pipeline.h — THE one stage table and the pipeline context.
 *
 * Both contimgd (worker threads) and `contimgctl process` run a group through
 * the same table, daemon/pipeline.c:pipe_stages[], in order:
 *
 *     load → convert → (flag → calibrate) → export → (image → photometry ...)
 *
 * A stage is `int run(pipe_ctx *ctx, char *err, size_t errlen)`:
 *   - returns 0 on success, PIPE_SKIPPED (> 0) when it had nothing to do (not
 *     timed, not recorded), or a negative errno with a sentence in err;
 *   - reads its inputs from ctx and leaves its results in ctx (fields below);
 *   - may use ctx->db (this thread's own connection to the state database) to
 *     read or register what it needs (calibration registry, images ...), with
 *     parameterised SQL only; the runner records stage timings and products;
 *   - must be idempotent: a group can be re-run after a crash or a requeue, so
 *     write files to a temporary name and rename, and upsert DB rows;
 *   - sets ctx->permanent = 1 when a retry cannot help (bad input data), so the
 *     group fails at once instead of being retried max_retries times;
 *   - calls pipe_progress(ctx) now and then in long loops (> ~30 s) so the
 *     systemd watchdog sees the worker is alive, and may check
 *     pipe_cancelled(ctx) to give up early when the daemon is stopping.
 *
 * Adding a stage (helpers for flag/calibrate/image/photometry): write
 * daemon/stage_<name>.c with `int stage_<name>(pipe_ctx *, char *, size_t)`,
 * declare it in the "stage functions" block below, add one row at the marked
 * place in pipe_stages[] (pipeline.c), and add the fields it produces in the
 * marked section of pipe_ctx.  Free what your stage leaves in pipe_ctx with
 * one line at the marked place in pipeline.c's pipe_ctx_release().
 * Configuration: parse your own section once, in a function beside your stage
 * registered in daemon/settings.c (keys and parser), into a settings struct of
 * daemon/settings.h; the stage reads it from ctx->conf, never cfg_get_* at run
 * time.  Document it in docs/config.md.  [pipeline] stages (a comma list)
 * lets operators and tests run a subset of the table.
 */
#ifndef CONTIMG_PIPELINE_H
#define CONTIMG_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/astro.h"
#include "core/config.h"
#include "core/uvh5.h"
#include "core/vis.h"
#include "daemon/earth.h"
#include "state/pointingdb.h"
#include "state/queue.h"

#define PIPE_SKIPPED 1      /* a stage's "nothing to do" return value */
#define PIPE_MAX_STAGES 32
#define PIPE_MAX_PRODUCTS 64
#define PIPE_NAME_LEN 64    /* stage and product names */

/* Results of later stages, owned by their modules (forward declarations so
 * this header does not pull every stage's header in). */
struct flag_report;
struct cal_result;
struct img_result;
struct phot_result;

typedef struct pipe_product {
	char name[PIPE_NAME_LEN]; /* e.g. "vis", "image", "pbcor", "psf" (unique per group) */
	char path[4096];          /* absolute path of the file */
} pipe_product;

typedef struct pipe_stage_time {
	char name[PIPE_NAME_LEN];
	double seconds;           /* wall-clock seconds the stage took */
} pipe_stage_time;

typedef struct pipe_ctx {
	/* ---- set up by the runner (pipe_ctx_init / pipe_run); read-only for stages ---- */
	const cfg *cfg;             /* the configuration (a reference held for the run) */
	sqlite3 *db;                /* this thread's state DB connection */
	int64_t group_id;           /* groups.id in the state DB */
	char group_name[32];        /* "YYYY-MM-DDTHH:MM:SS" of the group's earliest file */
	int threads;                /* [pipeline] threads: data-parallel width for stages */
	int nsubbands;              /* [ingest] subbands: expected subbands (16) */
	int min_subbands;           /* [ingest] min_subbands */
	int export_vis;             /* [pipeline] export_vis or `process --export-vis` */
	char x_orientation[8];      /* [pipeline] x_orientation: "east", "north" or "" (unknown):
				       the X feed's orientation for exported files whose input
				       does not say (docs/uvh5.md) */
	char products_dir[4096];    /* [paths] products_dir */
	char state_dir[4096];       /* [paths] state_dir (the FFTW wisdom file's default home) */
	char scratch_dir[4096];     /* [paths] scratch_dir (tmpfs staging when configured) */
	char out_dir[4096];         /* products_dir/YYYY-MM-DD/<group_name>: where this group's files go
				       (created by the runner before the first stage) */

	/* The group's subband files as registered in the DB (sorted by subband). */
	int nfiles;
	char **files;               /* [nfiles] absolute paths */
	int *subband;               /* [nfiles] subband index 0..nsubbands-1 (sb00 = highest freq) */
	int64_t *file_ids;          /* [nfiles] subband_files.id */
	int *file_ok;               /* [nfiles] 1 = usable; load sets 0 for unreadable/inconsistent */
	uvh5_header *hdr;           /* [nfiles] headers read by `load` (valid where file_ok) */
	int ngood;                  /* number of files with file_ok == 1 after load */

	/* ---- stage results ---- */
	vis_set *vis;               /* the combined group (convert); freed by pipe_ctx_release */
	struct flag_report *flags;  /* flag stage */
	struct cal_result *cal;     /* calibrate stage */
	int calibrated;             /* 1 when calibration solutions were applied */
	struct img_result *image;   /* image stage */
	struct phot_result *phot;   /* photometry stage */

	/* Products (name → path) recorded in the DB when the group completes. */
	int nproducts;
	pipe_product products[PIPE_MAX_PRODUCTS];

	/* Per-stage wall-clock seconds of this run, in table order. */
	int ntimes;
	pipe_stage_time times[PIPE_MAX_STAGES];
	char stage[PIPE_NAME_LEN];  /* the stage running now ("" between stages) */

	/* Failure classification (see the header comment). */
	int permanent;

	/* Hooks set by the runner's caller (daemon workers); may be NULL. */
	void (*progress_cb)(void *arg, const char *stage);
	void *progress_arg;
	volatile int *cancel;       /* non-zero: stop before the next stage */
	vis_set **vis_pool;         /* optional, caller-owned slot holding a visibility
				       buffer kept across groups (fresh memory is slow to
				       touch): convert reuses *vis_pool when the shape
				       matches, and pipe_ctx_release() puts ctx->vis back
				       there instead of freeing it.  NULL: no reuse. */
	struct mem_pool *pool;      /* optional, caller-owned cache of touched buffers
				       (core/pool.h) the stages take their big work
				       arrays from (the imager's grids, samples and
				       images); kept across groups like vis_pool.  It
				       must outlive pipe_ctx_release (ctx->image's
				       images go back to it).  NULL: plain allocations. */

	/* ==== HELPERS ADD THEIR FIELDS BELOW THIS LINE (one block per helper, with a
	 *      comment naming the stage; free them in pipe_ctx_release's marked place) ==== */

	/* Earth orientation (daemon/earth.h): chosen by convert for the group's mid
	 * time; calibrate and image use the same values. */
	eop_table *eop_table;       /* the process's IERS table when the group started
				       (a reference taken by pipe_ctx_init), or NULL */
	earth_settings earth;       /* [earth] and the [pipeline] dut1_s override */
	astro_eop eop;              /* UT1 - UTC and polar motion of this group */
	char eop_text[768];         /* what was used and where from ("" before convert) */

	/* pointing (daemon/pointing.h): the pointing convert chose for the beam,
	 * where it came from, and the photometry stage's check of it */
	int has_pointing;           /* 1 once pipe_pointing_resolve ran */
	pointingdb_group pointing;

	/* configuration (daemon/settings.h): every section parsed and validated
	 * once; stages read their typed settings here, not from cfg */
	const struct contimg_config *conf; /* a reference held for the run */

	/* ==== END OF HELPER FIELDS ==== */
} pipe_ctx;

typedef struct pipe_stage {
	const char *name;
	int (*run)(pipe_ctx *ctx, char *err, size_t errlen);
} pipe_stage;

/* The table (pipeline.c) and its length. */
extern const pipe_stage pipe_stages[];
extern const int pipe_nstages;

/* ---- stage functions (one daemon/stage_<name>.c each, except the first three,
 *      which live in pipeline.c) ---- */
int stage_load(pipe_ctx *ctx, char *err, size_t errlen);    /* headers, consistency, missing */
int stage_convert(pipe_ctx *ctx, char *err, size_t errlen); /* combine + rephase (core/convert.h) */
int stage_export(pipe_ctx *ctx, char *err, size_t errlen);  /* write the combined vis (UVH5) */
/* HELPERS: declare your stage functions here. */
int stage_photometry(pipe_ctx *ctx, char *err, size_t errlen); /* stage_photometry.c */
void phot_result_free(struct phot_result *r);                  /* stage_photometry.c */
int stage_flag(pipe_ctx *ctx, char *err, size_t errlen);       /* stage_flag.c */
void flag_report_free(struct flag_report *r);                  /* stage_flag.c */
double flag_report_fraction(const struct flag_report *r);      /* stage_flag.c: NAN if none */
int stage_calibrate(pipe_ctx *ctx, char *err, size_t errlen);  /* stage_calibrate.c */
void cal_result_free(struct cal_result *r);                    /* stage_calibrate.c */
int cal_result_applied(const struct cal_result *r, char type); /* 1: a 'K'/'B'/'G' table was applied */
/* Wall seconds of the calibrate stage's parts (0 for parts that did not run). */
void cal_result_timing(const struct cal_result *r, double *ret_model_s, double *ret_solve_s,
		       double *ret_apply_s);                          /* stage_calibrate.c */
const char *cal_result_calibrator(const struct cal_result *r); /* calibrator solved here, or NULL */
int stage_image(pipe_ctx *ctx, char *err, size_t errlen);      /* stage_image.c */
void image_result_free(struct img_result *r);                  /* imaging/image.c */
struct image_params;
/* [image] → image parameters (stage_image.c; contimgctl process may cfg_set
 * [image] keys before running the pipeline). */
int stage_image_params(const cfg *c, struct image_params *p, char *err, size_t errlen);

/* The settings contimgd and contimgctl share ([paths], [ingest], [pipeline]),
 * read once from a cfg with every documented default (docs/config.md). */
typedef struct pipe_settings {
	char ingest_dir[4096], state_dir[4096], products_dir[4096], scratch_dir[4096];
	char db_path[4200];          /* state_dir/contimg.sqlite */
	queue_params q;              /* subbands, group_tolerance_s, min_subbands, max_retries,
					retry_delay_s */
	double collect_timeout_s;    /* [ingest] collect_timeout_s (600) */
	double rescan_interval_s;    /* [ingest] rescan_interval_s (60) */
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
} pipe_settings;

/* Fill s from c; -EINVAL with "[section] key ..." in err for a malformed or
 * out-of-range value. */
int pipe_settings_read(const cfg *c, pipe_settings *s, char *err, size_t errlen);

/* Set up ctx for one group: builds the configuration from c (contimg_config_new,
 * failing with its errors; tests), then as pipe_ctx_init_config. */
int pipe_ctx_init(pipe_ctx *ctx, const cfg *c, sqlite3 *db, int64_t group_id,
		  char *err, size_t errlen);

/* Set up ctx for one group from a built configuration (daemon/settings.h;
 * references to it and its cfg are taken), what contimgd's workers and
 * `contimgctl process` use, so nothing is parsed per group: copies the
 * settings, remembers db (not owned), loads the group's files from the DB.
 * On failure ctx is released and a negative errno returned. */
struct contimg_config;
int pipe_ctx_init_config(pipe_ctx *ctx, const struct contimg_config *conf, sqlite3 *db,
			 int64_t group_id, char *err, size_t errlen);

/* Free everything the context owns (files, headers, vis, stage results, the
 * cfg reference).  Safe on a zeroed or already-released ctx. */
void pipe_ctx_release(pipe_ctx *ctx);

/* Run every stage in order on a claimed (in_progress) group: times each stage,
 * records it in the DB, stops at the first failure.  Does NOT change the
 * group's state; the caller finishes it with queue_finish() using the return
 * value, ctx->permanent and err.  Returns 0 when every stage succeeded,
 * -ECANCELED when *ctx->cancel was set between stages, or the failing stage's
 * negative errno with "stage NAME: message" in err. */
int pipe_run(pipe_ctx *ctx, char *err, size_t errlen);

/* pipe_run, then end the run in the DB: on success the group's products are
 * replaced by ctx->products and it becomes completed (one transaction); on
 * failure queue_finish() decides retry or failed (ctx->permanent → at once);
 * -ECANCELED puts it back to pending.  *ret_state (>= 16 bytes, may be NULL)
 * gets the new state and err the failure.  Returns pipe_run's result, or
 * the DB error when recording failed. */
int pipe_execute(pipe_ctx *ctx, const queue_params *q, char *ret_state, char *err,
		 size_t errlen);

/* Register a product (replaces an earlier one with the same name).  Returns
 * -ENOSPC when the table is full, -EINVAL for an empty name. */
int pipe_add_product(pipe_ctx *ctx, const char *name, const char *path);

/* Path of the product `name` or NULL. */
const char *pipe_product_path(const pipe_ctx *ctx, const char *name);

/* Tell the caller (watchdog) the worker is alive. */
void pipe_progress(pipe_ctx *ctx);

/* Non-zero when the daemon asked running groups to stop. */
int pipe_cancelled(const pipe_ctx *ctx);

#endif
