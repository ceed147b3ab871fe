#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "core/err.h"

typedef struct cfg_entry {
	char *section, *key, *value;
	int line; /* 1-based line in the file; 0 for cfg_set */
	int set;  /* the value came from cfg_set (the command line): it beats the
		     environment, which beats the file */
} cfg_entry;

typedef struct cfg_sect {
	char *name;
	int line;
} cfg_sect;

struct cfg {
	atomic_int refs;
	char *path;
	cfg_entry *e;
	int n, cap;
	cfg_sect *sect; /* every [section] header of the file, in file order */
	int nsect, capsect;
	int line;       /* the line the parser is at (while loading) */
	int oom;        /* an allocation failed inside the inih callback */
};

cfg *cfg_new_empty(void)
{
	cfg *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->path = strdup("");
	if (!c->path) {
		free(c);
		return NULL;
	}
	return c;
}

cfg *cfg_ref(const cfg *c)
{
	cfg *m = (cfg *)c;
	if (m)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void cfg_free(const cfg *c)
{
	cfg *m = (cfg *)c;
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	for (int i = 0; i < m->n; i++) {
		free(m->e[i].section);
		free(m->e[i].key);
		free(m->e[i].value);
	}
	free(m->e);
	for (int i = 0; i < m->nsect; i++)
		free(m->sect[i].name);
	free(m->sect);
	free(m->path);
	free(m);
}

const char *cfg_path(const cfg *c)
{
	return c && c->path ? c->path : "";
}

static cfg_entry *find(const cfg *c, const char *section, const char *key)
{
	/* Later entries win, as a repeated key in an INI file usually means. */
	for (int i = c ? c->n - 1 : -1; i >= 0; i--)
		if (!strcasecmp(c->e[i].section, section) && !strcasecmp(c->e[i].key, key))
			return &c->e[i];
	return NULL;
}

/* Set or add section.key = value; set: as cfg_set (else as read from the file). */
static int store(cfg *c, const char *section, const char *key, const char *value, int set)
{
	cfg_entry *e = find(c, section, key);
	char *v = strdup(value);

	if (!v)
		return -ENOMEM;
	if (e) {
		free(e->value);
		e->value = v;
		if (set) {
			e->set = 1;
			e->line = 0;
		}
		return 0;
	}
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 32;
		cfg_entry *ne = realloc(c->e, (size_t)cap * sizeof *ne);
		if (!ne) {
			free(v);
			return -ENOMEM;
		}
		c->e = ne;
		c->cap = cap;
	}
	e = &c->e[c->n];
	e->section = strdup(section);
	e->key = strdup(key);
	e->value = v;
	e->line = 0;
	e->set = set;
	if (!e->section || !e->key) {
		free(e->section);
		free(e->key);
		free(v);
		return -ENOMEM;
	}
	c->n++;
	return 0;
}

int cfg_set(cfg *c, const char *section, const char *key, const char *value)
{
	return store(c, section, key, value, 1);
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	cfg *c = user;
	cfg_entry *e;

	if (store(c, section, key, value ? value : "", 0) < 0) {
		c->oom = 1;
		return 0;
	}
	/* A repeated key replaced the earlier value: it now lives on this line. */
	e = find(c, section, key);
	if (e)
		e->line = c->line;
	return 1;
}

/* Remember a "[name]" header and its line (inih reports sections only with
 * their keys, so an empty or misspelt section would otherwise go unseen). */
static void note_section(cfg *c, const char *line)
{
	const char *s = line, *end;
	char *name;

	while (isspace((unsigned char)*s))
		s++;
	if (*s != '[' || !(end = strchr(s + 1, ']')))
		return;
	name = strndup(s + 1, (size_t)(end - s - 1));
	if (!name) {
		c->oom = 1;
		return;
	}
	if (c->nsect == c->capsect) {
		int cap = c->capsect ? 2 * c->capsect : 16;
		cfg_sect *ns = realloc(c->sect, (size_t)cap * sizeof *ns);
		if (!ns) {
			free(name);
			c->oom = 1;
			return;
		}
		c->sect = ns;
		c->capsect = cap;
	}
	c->sect[c->nsect++] = (cfg_sect){ name, c->line };
}

/* inih's line reader, counting lines: a file or a string. */
typedef struct reader {
	cfg *c;
	FILE *f;          /* the file, or NULL ... */
	const char *s;    /* ... for this string */
	int mid_line;     /* the last chunk did not end a line (longer than inih's buffer) */
} reader;

static char *read_line(char *buf, int size, void *stream)
{
	reader *rd = stream;
	char *r = NULL;

	if (rd->f) {
		r = fgets(buf, size, rd->f);
	} else if (*rd->s) {
		const char *nl = strchr(rd->s, '\n');
		size_t n = nl ? (size_t)(nl - rd->s) + 1 : strlen(rd->s);
		if (n > (size_t)size - 1)
			n = (size_t)size - 1;
		memcpy(buf, rd->s, n);
		buf[n] = 0;
		rd->s += n;
		r = buf;
	}
	if (r) {
		size_t len = strlen(r);
		if (!rd->mid_line) {
			rd->c->line++;
			note_section(rd->c, r);
		}
		rd->mid_line = len > 0 && r[len - 1] != '\n';
	}
	return r;
}

static int finish(cfg *c, int rc, const char *what, cfg **ret, char *err, size_t errlen)
{
	int r = 0;

	if (c->oom || rc == -2)
		r = err_set(err, errlen, -ENOMEM, "%s: out of memory", what);
	else if (rc == -1)
		r = err_set(err, errlen, -ENOENT, "%s: cannot open: %s", what, strerror(errno));
	else if (rc > 0)
		r = err_set(err, errlen, -EINVAL, "%s:%d: syntax error", what, rc);
	if (r < 0) {
		cfg_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int cfg_load(const char *path, cfg **ret, char *err, size_t errlen)
{
	cfg *c = cfg_new_empty();
	FILE *f;
	int rc;

	if (!c)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	free(c->path);
	c->path = strdup(path);
	if (!c->path) {
		c->path = NULL;
		cfg_free(c);
		return err_set(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	f = fopen(path, "re");
	if (!f) {
		int e = errno;
		cfg_free(c);
		return err_set(err, errlen, e == ENOENT ? -ENOENT : -e, "%s: cannot open: %s",
			       path, strerror(e));
	}
	rc = ini_parse_stream(read_line, &(reader){ c, f, NULL, 0 }, on_entry, c);
	fclose(f);
	return finish(c, rc, path, ret, err, errlen);
}

int cfg_load_string(const char *text, cfg **ret, char *err, size_t errlen)
{
	cfg *c = cfg_new_empty();
	if (!c)
		return err_set(err, errlen, -ENOMEM, "config: out of memory");
	return finish(c, ini_parse_stream(read_line, &(reader){ c, NULL, text, 0 }, on_entry, c),
		      "config", ret, err, errlen);
}

/* CONTIMG_<SECTION>_<KEY> into name; 0, or -1 when it does not fit. */
static int env_name(const char *section, const char *key, char *name, size_t len)
{
	size_t k = (size_t)snprintf(name, len, "CONTIMG_%s_%s", section, key);

	if (k >= len)
		return -1;
	for (size_t i = 0; name[i]; i++) {
		unsigned char ch = (unsigned char)name[i];
		name[i] = isalnum(ch) ? (char)toupper(ch) : '_';
	}
	return 0;
}

const char *cfg_lookup(const cfg *c, const char *section, const char *key)
{
	char name[256];
	const char *s;
	cfg_entry *e;

	/* file < environment < cfg_set (the command line's --set). */
	e = find(c, section, key);
	if (e && e->set)
		return e->value;
	if (env_name(section, key, name, sizeof name) == 0 && (s = getenv(name)))
		return s;
	return e ? e->value : NULL;
}

int cfg_line(const cfg *c, const char *section, const char *key)
{
	if (!key) {
		for (int i = c ? c->nsect - 1 : -1; i >= 0; i--)
			if (!strcasecmp(c->sect[i].name, section))
				return c->sect[i].line;
		return 0;
	}
	cfg_entry *e = find(c, section, key);
	return e ? e->line : 0;
}

static const char *file_name(const cfg *c)
{
	return c && c->path && *c->path ? c->path : "config";
}

void cfg_where(const cfg *c, const char *section, const char *key, char *buf, size_t len)
{
	char name[256];
	cfg_entry *e = key ? find(c, section, key) : NULL;
	int line;

	if (e && e->set) {
		snprintf(buf, len, "%s", "");
		return;
	}
	if (key && env_name(section, key, name, sizeof name) == 0 && getenv(name)) {
		snprintf(buf, len, "$%s: ", name);
		return;
	}
	line = cfg_line(c, section, key);
	if (line > 0)
		snprintf(buf, len, "%s:%d: ", file_name(c), line);
	else
		snprintf(buf, len, "%s", "");
}

int cfg_err(const cfg *c, const char *section, const char *key, char *err, size_t errlen,
	    const char *fmt, ...)
{
	char at[512], why[ERR_LEN];
	va_list ap;

	if (!err || !errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	cfg_where(c, section, key, at, sizeof at);
	if (key)
		return err_set(err, errlen, -EINVAL, "%s[%s] %s: %s", at, section, key, why);
	return err_set(err, errlen, -EINVAL, "%s[%s]: %s", at, section, why);
}

const char *cfg_get_str(const cfg *c, const char *section, const char *key, const char *def)
{
	const char *v = cfg_lookup(c, section, key);
	return v ? v : def;
}

static int bad(const cfg *c, char *err, size_t errlen, const char *section, const char *key,
	       const char *v, const char *what)
{
	char at[512];

	cfg_where(c, section, key, at, sizeof at);
	return err_set(err, errlen, -EINVAL, "%s[%s] %s = '%s': expected %s", at, section, key, v,
		       what);
}

static int parse_long(const char *v, long *ret)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || end == v || *end)
		return -EINVAL;
	*ret = x;
	return 0;
}

static int parse_double(const char *v, double *ret)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || end == v || *end || !isfinite(x))
		return -EINVAL;
	*ret = x;
	return 0;
}

int cfg_int(const cfg *c, const char *section, const char *key, int def, int *ret, char *err,
	    size_t errlen)
{
	const char *v = cfg_lookup(c, section, key);
	long x;

	if (!v || !*v) {
		*ret = def;
		return 0;
	}
	if (parse_long(v, &x) < 0 || x < -2147483647L || x > 2147483647L)
		return bad(c, err, errlen, section, key, v, "an integer");
	*ret = (int)x;
	return 0;
}

int cfg_double(const cfg *c, const char *section, const char *key, double def, double *ret,
	       char *err, size_t errlen)
{
	const char *v = cfg_lookup(c, section, key);
	double x;

	if (!v || !*v) {
		*ret = def;
		return 0;
	}
	if (parse_double(v, &x) < 0)
		return bad(c, err, errlen, section, key, v, "a number");
	*ret = x;
	return 0;
}

int cfg_bool(const cfg *c, const char *section, const char *key, int def, int *ret, char *err,
	     size_t errlen)
{
	static const char *yes[] = { "1", "true", "yes", "on" };
	static const char *no[] = { "0", "false", "no", "off" };
	const char *v = cfg_lookup(c, section, key);

	if (!v || !*v) {
		*ret = def;
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*ret = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*ret = 0;
			return 0;
		}
	}
	return bad(c, err, errlen, section, key, v, "true or false");
}

int cfg_get_int(const cfg *c, const char *section, const char *key, int def)
{
	int x = def;
	cfg_int(c, section, key, def, &x, NULL, 0);
	return x;
}

double cfg_get_double(const cfg *c, const char *section, const char *key, double def)
{
	double x = def;
	cfg_double(c, section, key, def, &x, NULL, 0);
	return x;
}

int cfg_get_bool(const cfg *c, const char *section, const char *key, int def)
{
	int x = def;
	cfg_bool(c, section, key, def, &x, NULL, 0);
	return x;
}

void cfg_foreach(const cfg *c, void (*fn)(void *arg, const char *section, const char *key,
					  const char *value), void *arg)
{
	for (int i = 0; c && i < c->n; i++)
		fn(arg, c->e[i].section, c->e[i].key, c->e[i].value);
}

/* ---- ranges ---------------------------------------------------------- */

/* One list element: "x" or "lo-hi" (both >= 0: '-' separates the bounds). */
static int parse_range(const char *tok, int integers, cfg_range *ret)
{
	char *end;
	double lo, hi;

	errno = 0;
	lo = strtod(tok, &end);
	if (errno || end == tok || !isfinite(lo) || lo < 0 || *tok == '-' || *tok == '+')
		return -EINVAL;
	hi = lo;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == '-') {
		const char *s = end + 1;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '-' || *s == '+')
			return -EINVAL;
		hi = strtod(s, &end);
		if (errno || end == s || !isfinite(hi) || hi < lo)
			return -EINVAL;
		while (isspace((unsigned char)*end))
			end++;
	}
	if (*end)
		return -EINVAL;
	if (integers && (lo != floor(lo) || hi != floor(hi) || hi > 1000000))
		return -EINVAL;
	*ret = (cfg_range){ lo, hi };
	return 0;
}

int cfg_get_ranges(const cfg *c, const char *section, const char *key, int integers,
		   cfg_range **ret, int *ret_n, char *err, size_t errlen)
{
	const char *v = cfg_lookup(c, section, key);
	char *copy = NULL, *rest, *tok;
	cfg_range *out = NULL;
	int n = 0, cap = 0, r = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!v || !*v)
		return 0;
	copy = strdup(v);
	if (!copy)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	for (rest = copy; (tok = strsep(&rest, ",")) != NULL;) {
		while (isspace((unsigned char)*tok))
			tok++;
		if (n == cap) {
			int ncap = cap ? 2 * cap : 8;
			cfg_range *no = realloc(out, (size_t)ncap * sizeof *no);
			if (!no) {
				r = err_set(err, errlen, -ENOMEM, "out of memory");
				goto out;
			}
			out = no;
			cap = ncap;
		}
		if (!*tok || parse_range(tok, integers, &out[n]) < 0) {
			r = bad(c, err, errlen, section, key, v,
				integers ? "comma-separated integers >= 0 or ranges lo-hi"
					 : "comma-separated numbers >= 0 or ranges lo-hi");
			goto out;
		}
		n++;
	}
	*ret = out;
	*ret_n = n;
	out = NULL;
out:
	free(out);
	free(copy);
	return r;
}

/* ---- known sections and keys ----------------------------------------- */

/* Levenshtein distance, case-insensitive, of two short names (longer ones
 * are compared on their first 63 characters). */
static int distance(const char *a, const char *b)
{
	int la = (int)strnlen(a, 63), lb = (int)strnlen(b, 63);
	int row[64];

	for (int j = 0; j <= lb; j++)
		row[j] = j;
	for (int i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = i;
		for (int j = 1; j <= lb; j++) {
			int up = row[j];
			int sub = diag + (tolower((unsigned char)a[i - 1]) !=
					  tolower((unsigned char)b[j - 1]));
			int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
			row[j] = sub < best ? sub : best;
			diag = up;
		}
	}
	return row[lb];
}

/* A near name is at most a third of its length away (and at least 1, at
 * most 3 edits): "subband" → "subbands", "photometri" → "photometry". */
static int near(const char *typed, const char *known)
{
	int d = distance(typed, known), lim = (int)strlen(typed) / 3;

	if (lim < 1)
		lim = 1;
	if (lim > 3)
		lim = 3;
	return d <= lim;
}

static int known_section(const cfg_known *k, size_t n, const char *section)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(k[i].section, section))
			return 1;
	return 0;
}

static int known_key(const cfg_known *k, size_t n, const char *section, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(k[i].section, section))
			continue;
		for (const char *const *p = k[i].keys; p && *p; p++)
			if (!strcasecmp(*p, key))
				return 1;
	}
	return 0;
}

/* Append one line to err (separated by '\n'), as far as it fits. */
static void add_line(char *err, size_t errlen, const char *line)
{
	size_t used;

	if (!err || !errlen)
		return;
	used = strlen(err);
	if (used + 1 >= errlen)
		return;
	snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", line);
}

static void suggest_key(const cfg_known *k, size_t n, const char *section, const char *key,
			char *buf, size_t len)
{
	buf[0] = 0;
	/* Nearest key of the same section first ... */
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(k[i].section, section))
			continue;
		for (const char *const *p = k[i].keys; p && *p; p++)
			if (near(key, *p)) {
				snprintf(buf, len, " (did you mean '%s'?)", *p);
				return;
			}
	}
	/* ... then the same key in another section. */
	for (size_t i = 0; i < n; i++)
		for (const char *const *p = k[i].keys; p && *p; p++)
			if (!strcasecmp(key, *p)) {
				snprintf(buf, len, " (it belongs in [%s])", k[i].section);
				return;
			}
}

static void suggest_section(const cfg_known *k, size_t n, const char *section, char *buf,
			    size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < n; i++)
		if (near(section, k[i].section)) {
			snprintf(buf, len, " (did you mean [%s]?)", k[i].section);
			return;
		}
}

int cfg_check_known(const cfg *c, const cfg_known *known, size_t nknown, char *err,
		    size_t errlen)
{
	char line[1024], hint[128], at[512];
	int bad_n = 0;

	if (err && errlen)
		err[0] = 0;
	for (int i = 0; c && i < c->nsect; i++) {
		if (known_section(known, nknown, c->sect[i].name))
			continue;
		suggest_section(known, nknown, c->sect[i].name, hint, sizeof hint);
		snprintf(line, sizeof line, "%s:%d: [%s]: unknown section%s", file_name(c),
			 c->sect[i].line, c->sect[i].name, hint);
		add_line(err, errlen, line);
		bad_n++;
	}
	for (int i = 0; c && i < c->n; i++) {
		const cfg_entry *e = &c->e[i];
		if (!known_section(known, nknown, e->section)) {
			if (cfg_line(c, e->section, NULL) > 0)
				continue; /* its header was reported */
			suggest_section(known, nknown, e->section, hint, sizeof hint);
			cfg_where(c, e->section, e->key, at, sizeof at);
			snprintf(line, sizeof line, "%s[%s] %s: unknown section%s", at, e->section,
				 e->key, hint);
		} else if (!known_key(known, nknown, e->section, e->key)) {
			suggest_key(known, nknown, e->section, e->key, hint, sizeof hint);
			if (e->line > 0)
				snprintf(at, sizeof at, "%s:%d: ", file_name(c), e->line);
			else
				at[0] = 0;
			snprintf(line, sizeof line, "%s[%s] %s: unknown key%s", at, e->section, e->key,
				 hint);
		} else {
			continue;
		}
		add_line(err, errlen, line);
		bad_n++;
	}
	return bad_n ? -EINVAL : 0;
}
