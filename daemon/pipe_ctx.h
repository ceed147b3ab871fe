/*
 * daemon/pipe_ctx.h — the pipeline context: what one group carries through
 * the stages, its products and stage times, and the progress/cancel hooks.
 *
 * This is the floor the stages stand on inside daemon/: every
 * daemon/stage_*.c and daemon/pointing.c include this header, never the
 * runner's (daemon/pipeline.h, which holds the stage table and pipe_run).
 * The runner and its callers (contimgd's workers, `contimgctl process`)
 * include both.
 *
 * A stage is `int run(pipe_ctx *ctx, char *err, size_t errlen)`:
 *   - returns 0 on success, PIPE_SKIPPED (> 0) when it had nothing to do (not
 *     timed, not recorded), or a negative errno with a sentence in err;
 *   - reads its inputs from ctx and leaves its results in ctx (fields below);
 *   - may use ctx->db (this thread's own connection to the state database)
 *     through state/ functions to read or register what it needs; the runner
 *     records stage timings and products;
 *   - must be idempotent: a group can be re-run after a crash or a requeue,
 *     so write files to a temporary name and rename, and upsert DB rows;
 *   - sets ctx->permanent = 1 when a retry cannot help (bad input data), so
 *     the group fails at once instead of being retried max_retries times;
 *   - calls pipe_progress(ctx) now and then in long loops (> ~30 s) so the
 *     systemd watchdog sees the worker is alive, and may check
 *     pipe_cancelled(ctx) to give up early when the daemon is stopping.
 *
 * Who frees a stage's result: the stage's row in the table
 * (daemon/pipeline.c) names a `release` function that frees the field the
 * stage fills (ctx->flags, ctx->cal, ...).  The runner registers it in the
 * context (pipe_ctx_on_release) before it runs the stage, and
 * pipe_ctx_release() calls the registered functions, newest first, before it
 * frees what the context itself owns.  So this module names no stage and the
 * table is the one place that knows them all.  Code that calls a stage
 * function directly (tests) frees that stage's result itself or registers
 * the release the same way.
 */
#ifndef CONTIMG_PIPE_CTX_H
#define CONTIMG_PIPE_CTX_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/astro.h"
#include "core/config.h"
#include "core/uvh5.h"
#include "core/vis.h"
#include "daemon/earth.h"
#include "state/pointingdb.h"

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
struct mem_pool;
struct convert_sub;
struct contimg_config;

typedef struct pipe_product {
	char name[PIPE_NAME_LEN]; /* e.g. "vis", "image", "pbcor", "psf" (unique per group) */
	char *path;               /* absolute path of the file (owned by the context) */
} pipe_product;

typedef struct pipe_stage_time {
	char name[PIPE_NAME_LEN];
	double seconds;           /* wall-clock seconds the stage took */
	double cpu_s;             /* CPU seconds of the process meanwhile (all its
				     threads: the stage's own when one group runs,
				     as in `contimgctl process`) */
} pipe_stage_time;

typedef struct pipe_ctx pipe_ctx;

/* Frees one stage's result in ctx and sets the field to NULL. */
typedef void (*pipe_release_fn)(pipe_ctx *ctx);

struct pipe_ctx {
	/* ---- set up by pipe_ctx_setup / the runner; read-only for stages ---- */
	const cfg *cfg;             /* the configuration (a reference held for the run) */
	sqlite3 *db;                /* this thread's state DB connection */
	int64_t group_id;           /* groups.id in the state DB */
	int64_t claim;              /* groups.claim of this run's claim (queue_claim_ex); 0: not
				     * checked.  A run whose claim was taken away stops at the
				     * next stage and records nothing (pipe_record). */
	char group_name[32];        /* "YYYY-MM-DDTHH:MM:SS" of the group's earliest file */
	int threads;                /* [pipeline] threads: data-parallel width for stages */
	int nsubbands;              /* [ingest] subbands: expected subbands (16) */
	int min_subbands;           /* [ingest] min_subbands */
	int export_vis;             /* [pipeline] export_vis or `process --export-vis` */
	char x_orientation[8];      /* [pipeline] x_orientation: "east", "north" or "" (unknown):
				       the X feed's orientation for exported files whose input
				       does not say (docs/uvh5.md) */
	/* Directories: heap strings owned by the context (freed by
	 * pipe_ctx_release); NULL reads as unset (""). */
	char *products_dir;         /* [paths] products_dir */
	char *state_dir;            /* [paths] state_dir (the default home of the catalog
				       and the FFTW wisdom file) */
	char *scratch_dir;          /* [paths] scratch_dir (tmpfs staging when configured) */
	char *out_dir;              /* products_dir/YYYY-MM-DD/<group_name>: where this group's
				       files go (created by the runner before the first stage) */

	/* The group's subband files as registered in the DB (sorted by subband). */
	int nfiles;
	char **files;               /* [nfiles] absolute paths */
	int *subband;               /* [nfiles] subband index 0..nsubbands-1 (sb00 = highest freq) */
	int64_t *file_ids;          /* [nfiles] subband_files.id */
	int *file_ok;               /* [nfiles] 1 = usable; load sets 0 for unreadable/inconsistent */
	uvh5_header *hdr;           /* [nfiles] headers read by `load` (valid where file_ok) */
	struct convert_sub **sub;   /* [nfiles] what `load` read of each file for convert
				       (core/convert.h convert_sub_read; NULL where the
				       header did not read or load did not run) */
	int hdr_read;               /* 1 once `load` filled hdr[] */
	int ngood;                  /* number of files with file_ok == 1 after load */

	/* ---- stage results (each freed by its stage's release, see above) ---- */
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

	/* Stage result releases registered with pipe_ctx_on_release. */
	int nrelease;
	pipe_release_fn release[PIPE_MAX_STAGES];

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
	 *      comment naming the stage; free them in the stage's release) ==== */

	/* Earth orientation (daemon/earth.h): chosen by convert for the group's mid
	 * time; calibrate and image use the same values. */
	eop_table *eop_table;       /* the process's IERS table when the group started
				       (a reference taken by pipe_ctx_setup), or NULL */
	earth_settings earth;       /* [earth] and the [pipeline] dut1_s override */
	astro_eop eop;              /* UT1 - UTC and polar motion of this group */
	char eop_text[768];         /* what was used and where from ("" before convert) */

	/* pointing (daemon/pointing.h): the pointing convert chose for the beam,
	 * where it came from, and the photometry stage's check of it */
	int has_pointing;           /* 1 once pipe_pointing_resolve ran */
	pointingdb_group pointing;

	/* configuration (daemon/settings.h): every section parsed and validated
	 * once; stages read their typed settings here, never from cfg.  Set by
	 * the runner (pipe_ctx_init_config), which holds a reference for the
	 * run and drops it at pipe_ctx_release. */
	const struct contimg_config *conf;

	/* ==== END OF HELPER FIELDS ==== */
};

/* What pipe_ctx_setup copies into the context (from the runner's settings). */
typedef struct pipe_ctx_params {
	int threads, nsubbands, min_subbands, export_vis;
	const char *x_orientation;  /* "east", "north" or "" */
	const char *products_dir, *state_dir, *scratch_dir; /* copied; NULL = "" */
	earth_settings earth;
} pipe_ctx_params;

/* Set up ctx for one group: copies p (the directories into heap strings the
 * context owns), takes a reference to c and to the process's IERS table,
 * remembers db (not owned), and loads the group's name and subband files
 * from the DB.  On failure ctx is released and a negative errno returned with
 * the reason in err.  (daemon/pipeline.h's pipe_ctx_init reads the settings
 * from the configuration and calls this.) */
int pipe_ctx_setup(pipe_ctx *ctx, const cfg *c, const pipe_ctx_params *p, sqlite3 *db,
		   int64_t group_id, char *err, size_t errlen);

/* Free everything the context owns (files, headers, vis — back to
 * *vis_pool when set —, the directories and product paths, the IERS table
 * and cfg references) after calling the registered stage releases, newest
 * first.  Safe on a zeroed or already-released ctx; leaves ctx zeroed. */
void pipe_ctx_release(pipe_ctx *ctx);

/* Register fn to free a stage's result at pipe_ctx_release (once: a function
 * already registered is not added again).  -ENOSPC when PIPE_MAX_STAGES are
 * registered, -EINVAL for NULL. */
int pipe_ctx_on_release(pipe_ctx *ctx, pipe_release_fn fn);

/* Register a product (a copy of path; replaces an earlier one with the same
 * name).  Returns -ENOSPC when the table is full, -EINVAL for an empty or too
 * long name or a NULL path, -ENOMEM. */
int pipe_add_product(pipe_ctx *ctx, const char *name, const char *path);

/* Path of the product `name` (owned by ctx) or NULL. */
const char *pipe_product_path(const pipe_ctx *ctx, const char *name);

/* Remove what an earlier run of this group left when it was killed (a crash,
 * kill -9, a power cut): the temporaries of unfinished product writes
 * ("NAME.tmp", "NAME.tmpPID", core/fsx.h) in out_dir and the group's in the
 * calibration tables' directory ("GROUP_*.tmp"), and the scratch copies of
 * its subband files (scratch_dir/GROUP/, removed with the directory).  A
 * finished product is never touched.  The runner calls it before the first
 * stage.  Returns the number of files removed (>= 0); a directory that does
 * not exist has nothing to clean. */
int pipe_ctx_clean_leftovers(pipe_ctx *ctx);

/* Tell the caller (watchdog) the worker is alive. */
void pipe_progress(pipe_ctx *ctx);

/* Non-zero when the daemon asked running groups to stop. */
int pipe_cancelled(const pipe_ctx *ctx);

/* s, or "" when s is NULL (for the directory fields). */
static inline const char *pipe_str(const char *s)
{
	return s ? s : "";
}

#endif
