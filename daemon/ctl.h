/*
 * daemon/ctl.h — the contract between contimgctl's dispatcher (contimgctl.c)
 * and its command families (daemon/ctl_*.c).
 *
 * Each command is `int ctl_<name>(int argc, char **argv, const ctl_env *env)`:
 * argv[0] is the command name, the rest its own arguments (global options such
 * as --config have already been removed).  It returns the process exit code:
 */
#ifndef CONTIMG_CTL_H
#define CONTIMG_CTL_H

enum {
	CTL_OK = 0,          /* success */
	CTL_NOT_FOUND = 1,   /* the named group/source/file does not exist */
	CTL_USAGE = 2,       /* bad usage or bad input (unreadable file, bad option) */
	CTL_UNREACHABLE = 3, /* the daemon or its state database is unreachable */
	CTL_FAILED = 4,      /* the requested processing ran and failed */
};

typedef struct ctl_env {
	const char *config_path; /* --config, else $CONTIMG_CONFIG, else /etc/contimg/contimg.conf */
	int config_explicit;     /* 1 when given by --config or $CONTIMG_CONFIG */
} ctl_env;

typedef int (*ctl_fn)(int argc, char **argv, const ctl_env *env);

/* Command implementations (one family per daemon/ctl_*.c file). */
int ctl_inspect(int argc, char **argv, const ctl_env *env);      /* ctl_inspect.c */
int ctl_status(int argc, char **argv, const ctl_env *env);       /* ctl_ops.c */
int ctl_groups(int argc, char **argv, const ctl_env *env);       /* ctl_ops.c */
int ctl_show(int argc, char **argv, const ctl_env *env);         /* ctl_ops.c */
int ctl_requeue(int argc, char **argv, const ctl_env *env);      /* ctl_ops.c */
int ctl_retry_failed(int argc, char **argv, const ctl_env *env); /* ctl_ops.c */
int ctl_ingest(int argc, char **argv, const ctl_env *env);       /* ctl_ops.c */
int ctl_process(int argc, char **argv, const ctl_env *env);      /* ctl_ops.c */
int ctl_catalog(int argc, char **argv, const ctl_env *env);      /* ctl_cat.c */
int ctl_transits(int argc, char **argv, const ctl_env *env);     /* ctl_cat.c */
int ctl_caltables(int argc, char **argv, const ctl_env *env);    /* ctl_cat.c */
int ctl_variability(int argc, char **argv, const ctl_env *env); /* ctl_phot.c */
int ctl_lightcurve(int argc, char **argv, const ctl_env *env);  /* ctl_phot.c */
int ctl_candidates(int argc, char **argv, const ctl_env *env);  /* ctl_phot.c */
int ctl_candidate(int argc, char **argv, const ctl_env *env);   /* ctl_phot.c */
int ctl_mosaic(int argc, char **argv, const ctl_env *env);      /* ctl_mosaic.c */
int ctl_pointing(int argc, char **argv, const ctl_env *env);    /* ctl_pointing.c */
int ctl_config(int argc, char **argv, const ctl_env *env);      /* ctl_config.c */

/* ---- helpers shared by command families (ctl_common.c) ----
 * Each prints its own one-line "contimgctl: ..." diagnostic on stderr and
 * returns the exit code the command should return (CTL_OK on success), so a
 * command reads `if ((rc = ctl_load_settings(env, &c, &s)) != CTL_OK) return rc;`.
 * Struct tags rather than the typedefs keep this header free of includes:
 * struct cfg is core/config.h's cfg, struct pipe_settings daemon/pipeline.h's
 * pipe_settings, struct sqlite3 SQLite's handle. */
struct cfg;
struct pipe_settings;
struct sqlite3;

/* Load env->config_path into *ret_c (the caller frees it with cfg_free).  An
 * absent file is an error (CTL_USAGE, message printed) only when it was named
 * explicitly (env->config_explicit); an absent default file gives an empty
 * configuration, i.e. every key at its default.  Any other load error:
 * CTL_USAGE with the message.  Out of memory: CTL_FAILED, nothing printed.
 * *ret_c is untouched on failure. */
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
