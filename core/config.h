/*
 * core/config.h — the INI configuration store (parsed with inih).
 *
 * A cfg holds every `key = value` of every `[section]` of one file.  Getters
 * take a default that is returned when the key is absent.  An environment
 * variable CONTIMG_<SECTION>_<KEY> (upper-case; '-' and '.' become '_')
 * overrides the file, e.g. CONTIMG_INGEST_MIN_SUBBANDS=15.
 *
 * Reload (SIGHUP): load a new cfg with cfg_load() and swap the pointer; code
 * that runs across the swap (a pipeline run in a worker thread) keeps the old
 * one alive with cfg_ref() and drops it with cfg_free().  A cfg is immutable
 * after cfg_load(), so any number of threads may read it at once.
 *
 * Ownership: cfg_load()/cfg_new_empty() return a cfg with one reference;
 * cfg_ref() adds one, cfg_free() drops one and frees at zero (NULL ok).
 * Strings returned by getters live as long as the cfg (or the environment).
 */
#ifndef CONTIMG_CONFIG_H
#define CONTIMG_CONFIG_H

#include <stddef.h>

typedef struct cfg cfg;

/* Parse path.  Fails with -ENOENT when the file does not exist, -EINVAL with
 * "path:LINE: ..." in err on a syntax error, -ENOMEM. */
int cfg_load(const char *path, cfg **ret, char *err, size_t errlen);

/* An empty store (every getter returns its default unless the environment
 * overrides it).  NULL on allocation failure. */
cfg *cfg_new_empty(void);

/* Parse INI text held in memory (tests, defaults).  Errors as cfg_load. */
int cfg_load_string(const char *text, cfg **ret, char *err, size_t errlen);

/* Set or replace a value (used by tests and command-line overrides; only
 * before the cfg is shared with other threads).  Returns -ENOMEM on failure. */
int cfg_set(cfg *c, const char *section, const char *key, const char *value);

cfg *cfg_ref(const cfg *c);
void cfg_free(const cfg *c);

/* The file the cfg came from ("" for strings/empty). */
const char *cfg_path(const cfg *c);

/* Raw value: environment override, then file, else NULL. */
const char *cfg_lookup(const cfg *c, const char *section, const char *key);

/* Typed getters: the value, or def when absent or malformed.  Booleans
 * accept 1/0, true/false, yes/no, on/off (any case).  Use the strict forms
 * below to report malformed values. */
const char *cfg_get_str(const cfg *c, const char *section, const char *key, const char *def);
int cfg_get_int(const cfg *c, const char *section, const char *key, int def);
double cfg_get_double(const cfg *c, const char *section, const char *key, double def);
int cfg_get_bool(const cfg *c, const char *section, const char *key, int def);

/* Strict getters: *ret = value or def when absent; -EINVAL with
 * "[section] key = 'value': expected ..." in err when malformed (then *ret is
 * untouched). */
int cfg_int(const cfg *c, const char *section, const char *key, int def, int *ret,
	    char *err, size_t errlen);
int cfg_double(const cfg *c, const char *section, const char *key, double def, double *ret,
	       char *err, size_t errlen);
int cfg_bool(const cfg *c, const char *section, const char *key, int def, int *ret,
	     char *err, size_t errlen);

/* Comma-separated lists ("1, 4,7").  Absent or empty key: *ret = NULL, *ret_n = 0.
 * Otherwise *ret is a new array the caller frees with free().  -EINVAL on a
 * malformed element, -ENOMEM. */
int cfg_get_int_list(const cfg *c, const char *section, const char *key, int **ret,
		     int *ret_n, char *err, size_t errlen);
int cfg_get_double_list(const cfg *c, const char *section, const char *key, double **ret,
			int *ret_n, char *err, size_t errlen);

/* Call fn for every (section, key, value) held from the file, in file order
 * (environment overrides are not listed).  Used to dump the effective config. */
void cfg_foreach(const cfg *c, void (*fn)(void *arg, const char *section, const char *key,
					  const char *value), void *arg);

#endif
