/*
 * daemon/ctl.h — the contract between contimgctl's dispatcher (contimgctl.c)
 * and its command families (daemon/ctl_*.c).
 *
 * Every command is one row of the command table in contimgctl.c (struct
 * ctl_command): its name (and subcommand for the families catalog, pointing
 * and mosaic), its function, what the shared prologue opens for it, a
 * synopsis and a help text.  The dispatcher answers `COMMAND --help`, `-h`
 * and `help COMMAND` from the row, so no command parses those itself.
 *
 * A command is `int ctl_<name>(int argc, char **argv, const ctl_env *env)`:
 * argv[0] is the command name (for a subcommand argv[1] is its name and its
 * own arguments start at argv[2]); global options such as --config have
 * already been removed.  It parses its arguments first (a bad one:
 * `return ctl_usage(env);`), then opens what its row asks for with
 * ctl_begin, works, and leaves through ctl_end, which closes everything and
 * returns the exit code:
 */
#ifndef CONTIMG_CTL_H
#define CONTIMG_CTL_H

/* Struct tags rather than the typedefs keep this header free of includes (in
 * particular of the runner's daemon/pipeline.h, which only the ctl_*.c files
 * that need it include): struct cfg is core/config.h's cfg, struct
 * pipe_settings daemon/pipeline.h's pipe_settings, struct sqlite3 SQLite's
 * handle. */
struct cfg;
struct pipe_settings;
struct sqlite3;

enum {
	CTL_OK = 0,          /* success */
	CTL_NOT_FOUND = 1,   /* the named group/source/file does not exist */
	CTL_USAGE = 2,       /* bad usage or bad input (unreadable file, bad option) */
	CTL_UNREACHABLE = 3, /* the daemon or its state database is unreachable */
	CTL_FAILED = 4,      /* the requested processing ran and failed */
};

/* What the shared prologue (ctl_begin) opens for a command. */
typedef enum ctl_needs {
	CTL_NEEDS_NOTHING = 0, /* files named on the command line only */
	CTL_NEEDS_SETTINGS,    /* the configuration and the pipeline settings */
	CTL_NEEDS_DB_RO,       /* settings + the state database, read-only */
	CTL_NEEDS_DB_RW,       /* settings + the state database, read-write */
	CTL_NEEDS_DB_CREATE,   /* as DB_RW, creating state_dir and the database if absent */
	CTL_NEEDS_SETTINGS_W,  /* as SETTINGS, for a command that writes files the daemon
				* owns (catalog import, mosaic build) */
} ctl_needs;

struct ctl_env;
typedef int (*ctl_fn)(int argc, char **argv, const struct ctl_env *env);

/* One row of the command table. */
typedef struct ctl_command {
	const char *name;     /* "status", "pointing" */
	const char *sub;      /* "add" for `pointing add`; NULL for a plain command */
	ctl_fn fn;
	ctl_needs needs;
	const char *synopsis; /* the arguments after the name(s): "[--json]" */
	const char *summary;  /* one line for the command list */
	const char *help;     /* the longer text of `COMMAND --help`, lines ending in \n */
} ctl_command;

typedef struct ctl_env {
	const char *config_path;  /* --config, else $CONTIMG_CONFIG, else /etc/contimg/contimg.conf */
	int config_explicit;      /* 1 when given by --config or $CONTIMG_CONFIG */
	const ctl_command *cmd;   /* the row being run (set by the dispatcher) */
} ctl_env;

/* What ctl_begin opened; zero it (or let ctl_begin do it) and give it to
 * ctl_end.  Fields the row did not ask for stay NULL / zero. */
typedef struct ctl_state {
	struct cfg *cfg;          /* the configuration (owned; cfg_free by ctl_end) */
	struct pipe_settings *s;  /* the pipeline settings read from it (owned; freed by ctl_end) */
	struct sqlite3 *db;       /* the state database (owned; db_close by ctl_end) */
} ctl_state;

/* Files contimgctl creates must be the daemon's, whose user owns state_dir
 * (a root-owned product directory makes the daemon's next group fail with
 * EACCES).  Run as root, contimgctl becomes that owner for good (its groups,
 * gid and uid) before it opens anything; run as another user, a command that
 * writes (writes != 0) is refused with CTL_USAGE and a message naming both
 * users, while read-only commands go on.  Nothing to do when state_dir does
 * not exist yet (what is created is the caller's) or is the caller's own.
 * ctl_begin calls it for every command that opens the settings;
 * `process`, which opens them itself, calls it too.  docs/operations.md. */
int ctl_become_owner(const struct pipe_settings *s, int writes);

/* Command implementations (one family per daemon/ctl_*.c file). */
int ctl_inspect(int argc, char **argv, const ctl_env *env);          /* ctl_inspect.c */
int ctl_status(int argc, char **argv, const ctl_env *env);           /* ctl_ops.c */
int ctl_groups(int argc, char **argv, const ctl_env *env);           /* ctl_ops.c */
int ctl_show(int argc, char **argv, const ctl_env *env);             /* ctl_ops.c */
int ctl_requeue(int argc, char **argv, const ctl_env *env);          /* ctl_ops.c */
int ctl_retry_failed(int argc, char **argv, const ctl_env *env);     /* ctl_ops.c */
int ctl_ingest(int argc, char **argv, const ctl_env *env);           /* ctl_ops.c */
int ctl_process(int argc, char **argv, const ctl_env *env);          /* ctl_ops.c */
int ctl_catalog_import(int argc, char **argv, const ctl_env *env);   /* ctl_cat.c */
int ctl_catalog_list(int argc, char **argv, const ctl_env *env);     /* ctl_cat.c */
int ctl_transits(int argc, char **argv, const ctl_env *env);         /* ctl_cat.c */
int ctl_caltables(int argc, char **argv, const ctl_env *env);        /* ctl_cat.c */
int ctl_variability(int argc, char **argv, const ctl_env *env);      /* ctl_phot.c */
int ctl_lightcurve(int argc, char **argv, const ctl_env *env);       /* ctl_phot.c */
int ctl_candidates(int argc, char **argv, const ctl_env *env);       /* ctl_phot.c */
int ctl_candidate(int argc, char **argv, const ctl_env *env);        /* ctl_phot.c */
int ctl_alerts(int argc, char **argv, const ctl_env *env);           /* ctl_alerts.c */
int ctl_quality(int argc, char **argv, const ctl_env *env);          /* ctl_quality.c */
int ctl_mosaic_plan(int argc, char **argv, const ctl_env *env);      /* ctl_mosaic.c */
int ctl_mosaic_build(int argc, char **argv, const ctl_env *env);     /* ctl_mosaic.c */
int ctl_pointing_add(int argc, char **argv, const ctl_env *env);     /* ctl_pointing.c */
int ctl_pointing_list(int argc, char **argv, const ctl_env *env);    /* ctl_pointing.c */
int ctl_pointing_remove(int argc, char **argv, const ctl_env *env);  /* ctl_pointing.c */
int ctl_config_check(int argc, char **argv, const ctl_env *env);     /* ctl_config.c */
int ctl_unit(int argc, char **argv, const ctl_env *env);             /* ctl_unit.c */
int ctl_plot_image(int argc, char **argv, const ctl_env *env);       /* ctl_plot.c */
int ctl_plot_stamp(int argc, char **argv, const ctl_env *env);       /* ctl_plot.c */
int ctl_plot_caltable(int argc, char **argv, const ctl_env *env);    /* ctl_plot.c */
int ctl_stamps(int argc, char **argv, const ctl_env *env);           /* ctl_plot.c */
int ctl_housekeeping(int argc, char **argv, const ctl_env *env);     /* ctl_house.c */
int ctl_metrics(int argc, char **argv, const ctl_env *env);          /* ctl_metrics.c */
int ctl_caltables_export(int argc, char **argv, const ctl_env *env); /* ctl_calexport.c,
									 from ctl_caltables */

/* ---- the shared prologue and epilogue (ctl_common.c) ----
 * Each prints its own one-line "contimgctl: ..." diagnostic on stderr and
 * returns the exit code the command should return (CTL_OK on success). */

/* The prologue: open what env->cmd->needs asks for into *st (zeroed first;
 * st->s is allocated from CTL_NEEDS_SETTINGS on).  On failure the message is
 * printed, nothing is left open and the exit code is returned (CTL_USAGE for
 * a bad configuration, CTL_UNREACHABLE for the database, CTL_FAILED out of
 * memory). */
int ctl_begin(const ctl_env *env, ctl_state *st);

/* The epilogue: close what ctl_begin opened (st may be partly filled or
 * zeroed) and return rc, so a command ends with `return ctl_end(&st, rc);`. */
int ctl_end(ctl_state *st, int rc);

/* "usage: contimgctl NAME [SUB] SYNOPSIS" of env->cmd on stderr; returns
 * CTL_USAGE, so a command reads `return ctl_usage(env);`. */
int ctl_usage(const ctl_env *env);

/* The argument loop of a command whose only option is --json (status,
 * caltables, candidates, pointing list): argv[first..argc-1] must each be
 * "--json".  Sets *ret_json (0 or 1) and returns CTL_OK, else prints the usage
 * (ctl_usage) and returns CTL_USAGE. */
int ctl_only_json(int argc, char **argv, int first, const ctl_env *env, int *ret_json);

/* o as pretty JSON (spaced, slashes unescaped) and a newline on stdout.  o
 * stays the caller's. */
struct json_object;
void ctl_print_json(struct json_object *o);

/* The free space of the watched paths (ctl_house.c): a JSON array of {name,
 * path, free_gb, min_free_gb, below} for `status` and `housekeeping`; hs
 * (daemon/housekeeping.h) may be NULL (no thresholds). */
struct house_settings;
struct json_object *ctl_house_disk(const struct pipe_settings *s,
				   const struct house_settings *hs);

/* ---- the steps of the prologue, for a command that must change the
 * configuration between them (`process --set`) ---- */

/* Load env->config_path into *ret_c (the caller frees it with cfg_free).  An
 * absent file is an error (CTL_USAGE, message printed) only when it was named
 * explicitly (env->config_explicit); an absent default file gives an empty
 * configuration, i.e. every key at its default.  Any other load error:
 * CTL_USAGE with the message.  Out of memory: CTL_FAILED.  *ret_c is
 * untouched on failure. */
int ctl_load_config(const ctl_env *env, struct cfg **ret_c);

/* ctl_load_config, then the pipeline settings from it into *s (pipe_settings_read).
 * Bad settings: "contimgctl: CONFIG_PATH: reason", CTL_USAGE.  On success the
 * caller owns *ret_c (cfg_free); on failure nothing is left to free. */
int ctl_load_settings(const ctl_env *env, struct cfg **ret_c, struct pipe_settings *s);

/* Open the state database s->db_path: read-write when write (created, with
 * s->state_dir made first if missing, when create), else read-only.  Failure:
 * "contimgctl: state database unreachable: reason" (or "cannot create DIR"),
 * CTL_UNREACHABLE.  The caller closes *ret with db_close. */
int ctl_open_db(const struct pipe_settings *s, int write, int create, struct sqlite3 **ret);

#endif
