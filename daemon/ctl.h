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

#endif
