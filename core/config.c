#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "core/err.h"

typedef struct cfg_entry {
	char *section, *key, *value;
} cfg_entry;

struct cfg {
	atomic_int refs;
	char *path;
	cfg_entry *e;
	int n, cap;
	int oom; /* an allocation failed inside the inih callback */
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

int cfg_set(cfg *c, const char *section, const char *key, const char *value)
{
	cfg_entry *e = find(c, section, key);
	char *v = strdup(value);

	if (!v)
		return -ENOMEM;
	if (e) {
		free(e->value);
		e->value = v;
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
	if (!e->section || !e->key) {
		free(e->section);
		free(e->key);
		free(v);
		return -ENOMEM;
	}
	c->n++;
	return 0;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	cfg *c = user;
	if (cfg_set(c, section, key, value ? value : "") < 0) {
		c->oom = 1;
		return 0;
	}
	return 1;
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
	rc = ini_parse_file(f, on_entry, c);
	fclose(f);
	return finish(c, rc, path, ret, err, errlen);
}

int cfg_load_string(const char *text, cfg **ret, char *err, size_t errlen)
{
	cfg *c = cfg_new_empty();
	if (!c)
		return err_set(err, errlen, -ENOMEM, "config: out of memory");
	return finish(c, ini_parse_string(text, on_entry, c), "config", ret, err, errlen);
}

const char *cfg_lookup(const cfg *c, const char *section, const char *key)
{
	char name[256];
	size_t k = 0;
	const char *s;
	cfg_entry *e;

	k = (size_t)snprintf(name, sizeof name, "CONTIMG_%s_%s", section, key);
	if (k < sizeof name) {
		for (size_t i = 0; name[i]; i++) {
			unsigned char ch = (unsigned char)name[i];
			name[i] = isalnum(ch) ? (char)toupper(ch) : '_';
		}
		s = getenv(name);
		if (s)
			return s;
	}
	e = find(c, section, key);
	return e ? e->value : NULL;
}

const char *cfg_get_str(const cfg *c, const char *section, const char *key, const char *def)
{
	const char *v = cfg_lookup(c, section, key);
	return v ? v : def;
}

static int bad(char *err, size_t errlen, const char *section, const char *key, const char *v,
	       const char *what)
{
	return err_set(err, errlen, -EINVAL, "[%s] %s = '%s': expected %s", section, key, v, what);
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
		return bad(err, errlen, section, key, v, "an integer");
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
		return bad(err, errlen, section, key, v, "a number");
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
	return bad(err, errlen, section, key, v, "true or false");
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

/* Split a comma-separated value and parse every element as an int (is_int)
 * or a double into a new array. */
static int get_list(const cfg *c, const char *section, const char *key, int is_int, void **ret,
		    int *ret_n, char *err, size_t errlen)
{
	const char *v = cfg_lookup(c, section, key);
	char *copy = NULL, *rest, *tok;
	void *out = NULL;
	int n = 0, cap = 0, r = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!v || !*v)
		return 0;
	copy = strdup(v);
	if (!copy)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	/* strsep, not strtok: "1,,2" has an empty element, which is an error. */
	for (rest = copy; (tok = strsep(&rest, ",")) != NULL;) {
		while (isspace((unsigned char)*tok))
			tok++;
		if (!*tok) {
			r = bad(err, errlen, section, key, v, "a comma-separated list");
			goto out;
		}
		if (n == cap) {
			int ncap = cap ? 2 * cap : 8;
			void *no = realloc(out, (size_t)ncap * (is_int ? sizeof(int) : sizeof(double)));
			if (!no) {
				r = err_set(err, errlen, -ENOMEM, "out of memory");
				goto out;
			}
			out = no;
			cap = ncap;
		}
		if (is_int) {
			long x;
			if (parse_long(tok, &x) < 0 || x < -2147483647L || x > 2147483647L) {
				r = bad(err, errlen, section, key, v, "a list of integers");
				goto out;
			}
			((int *)out)[n++] = (int)x;
		} else {
			double x;
			if (parse_double(tok, &x) < 0) {
				r = bad(err, errlen, section, key, v, "a list of numbers");
				goto out;
			}
			((double *)out)[n++] = x;
		}
	}
	*ret = out;
	*ret_n = n;
	out = NULL;
out:
	free(out);
	free(copy);
	return r;
}

int cfg_get_int_list(const cfg *c, const char *section, const char *key, int **ret, int *ret_n,
		     char *err, size_t errlen)
{
	void *p;
	int n, r = get_list(c, section, key, 1, &p, &n, err, errlen);
	if (r < 0)
		return r;
	*ret = p;
	*ret_n = n;
	return 0;
}

int cfg_get_double_list(const cfg *c, const char *section, const char *key, double **ret,
			int *ret_n, char *err, size_t errlen)
{
	void *p;
	int n, r = get_list(c, section, key, 0, &p, &n, err, errlen);
	if (r < 0)
		return r;
	*ret = p;
	*ret_n = n;
	return 0;
}

void cfg_foreach(const cfg *c, void (*fn)(void *arg, const char *section, const char *key,
					  const char *value), void *arg)
{
	for (int i = 0; c && i < c->n; i++)
		fn(arg, c->e[i].section, c->e[i].key, c->e[i].value);
}
