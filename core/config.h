/*
 * core/config.h — the INI configuration store (parsed with inih).
 *
 * A cfg holds every `key = value` of every `[section]` of one file.  Getters
 * take a default that is returned when the key is absent.  An environment
 * variable CONTIMG_<SECTION>_<KEY> (upper-case; '-' and '.' become '_')
 * overrides the file, e.g. CONTIMG_INGEST_MIN_SUBBANDS=15, and cfg_set (the
 * command line's --set) overrides both: file < environment < cfg_set.
 *
 * Reload (SIGHUP): load a new cfg with cfg_load() and swap the pointer; code
 * that runs across the swap (a pipeline run in a worker thread) keeps the old
 * one alive with cfg_ref() and drops it with cfg_free().  A cfg is immutable
 * after cfg_load(), so any number of threads may read it at once.
 *
 * Every key and every [section] header keeps the line it came from, so
 * errors read "FILE:LINE: [section] key: reason" (cfg_where, cfg_err, the
 * strict getters), and cfg_check_known() refuses sections and keys that no
 * reader knows, with a "did you mean" when a known name is a few edits away.
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
 * before the cfg is shared with other threads).  A value set here wins over
 * the environment variable of the same key.  Returns -ENOMEM on failure. */
int cfg_set(cfg *c, const char *section, const char *key, const char *value);

cfg *cfg_ref(const cfg *c);
void cfg_free(const cfg *c);

/* The file the cfg came from ("" for strings/empty). */
const char *cfg_path(const cfg *c);

/* Raw value: cfg_set's, then the environment's, then the file's, else NULL. */
const char *cfg_lookup(const cfg *c, const char *section, const char *key);

/* Typed getters: the value, or def when absent or malformed.  Booleans
 * accept 1/0, true/false, yes/no, on/off (any case).  Use the strict forms
 * below to report malformed values. */
const char *cfg_get_str(const cfg *c, const char *section, const char *key, const char *def);
int cfg_get_int(const cfg *c, const char *section, const char *key, int def);
double cfg_get_double(const cfg *c, const char *section, const char *key, double def);
int cfg_get_bool(const cfg *c, const char *section, const char *key, int def);

/* Strict getters: *ret = value or def when absent; -EINVAL with
 * "FILE:LINE: [section] key = 'value': expected ..." in err when malformed
 * (then *ret is untouched; the location as cfg_where gives it). */
int cfg_int(const cfg *c, const char *section, const char *key, int def, int *ret,
	    char *err, size_t errlen);
int cfg_double(const cfg *c, const char *section, const char *key, double def, double *ret,
	       char *err, size_t errlen);
int cfg_bool(const cfg *c, const char *section, const char *key, int def, int *ret,
	     char *err, size_t errlen);

/* Comma-separated numbers and ranges, all >= 0 ('-' separates a range's
 * bounds): "10, 21-23, 117" (integers != 0: every bound a whole number
 * <= 1000000) or "1381.0-1381.1, 1400.2".  Each element becomes one
 * {lo, hi} (lo == hi for a single value; hi >= lo).  Absent or empty key:
 * *ret = NULL, *ret_n = 0.  Otherwise *ret is a new array the caller frees
 * with free().  -EINVAL with the location and the value on a malformed
 * element (an empty one too: "1,,2"), -ENOMEM. */
typedef struct cfg_range {
	double lo, hi;
} cfg_range;
int cfg_get_ranges(const cfg *c, const char *section, const char *key, int integers,
		   cfg_range **ret, int *ret_n, char *err, size_t errlen);

/* The line of key in section (its last occurrence), or of the section's last
 * header when key is NULL; 0 when absent or set by cfg_set(). */
int cfg_line(const cfg *c, const char *section, const char *key);

/* Where a value comes from, as an error prefix: "FILE:LINE: ", or
 * "$CONTIMG_SECTION_KEY: " for an environment override, or "" (cfg_set, or
 * absent).  FILE is "config" for a store parsed from a string.  buf always
 * ends with a NUL. */
void cfg_where(const cfg *c, const char *section, const char *key, char *buf, size_t len);

/* Format "WHERE[section] key: REASON" (or "WHERE[section]: REASON" for a NULL
 * key) into err, REASON from fmt; returns -EINVAL (for `return cfg_err(...)`). */
int cfg_err(const cfg *c, const char *section, const char *key, char *err, size_t errlen,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The sections and keys a program reads: one row per section (a section may
 * have several rows, e.g. one per reader); keys is a NULL-terminated list. */
typedef struct cfg_known {
	const char *section;
	const char *const *keys;
} cfg_known;

/* Check every section header and key of c (file entries and cfg_set ones)
 * against known[nknown] (names compare case-insensitively).  Returns 0, or
 * -EINVAL with one line per problem in err (lines separated by '\n', as many
 * as fit), each "FILE:LINE: [section] key: unknown key (did you mean 'k'?)"
 * or "FILE:LINE: [section]: unknown section (did you mean [s]?)"; a known key
 * in the wrong section says where it belongs.  Environment overrides are not
 * checked (the environment holds other programs' variables too). */
int cfg_check_known(const cfg *c, const cfg_known *known, size_t nknown, char *err,
		    size_t errlen);

/* Call fn for every (section, key, value) held from the file, in file order
 * (environment overrides are not listed).  Used to dump the effective config. */
void cfg_foreach(const cfg *c, void (*fn)(void *arg, const char *section, const char *key,
					  const char *value), void *arg);

#endif
