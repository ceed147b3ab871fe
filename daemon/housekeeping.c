/*
 * daemon/housekeeping.c — free-space guard and retention (see housekeeping.h).
 */
#include "daemon/housekeeping.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/err.h"
#include "daemon/util.h"
#include "state/db.h"
#include "state/housedb.h"
#include "state/queue.h"

#define GB 1e9
#define DAY_S 86400.0

static const char *const labels[HOUSE_NPATHS] = { "incoming_dir", "products_dir", "state_dir",
						  "scratch_dir" };
static const char *const min_keys[HOUSE_NPATHS] = { "min_free_incoming_gb",
						    "min_free_products_gb", "min_free_state_gb",
						    "min_free_scratch_gb" };
static const double min_defaults[HOUSE_NPATHS] = { 20, 20, 1, 1 };

const char *house_path_label(int i)
{
	return i >= 0 && i < HOUSE_NPATHS ? labels[i] : "?";
}

/* ---- settings ---- */

static int nonneg(const cfg *c, const char *key, double def, double *ret, char *err,
		  size_t errlen)
{
	int r = cfg_double(c, "housekeeping", key, def, ret, err, errlen);
	if (r < 0)
		return r;
	if (!(*ret >= 0) || !isfinite(*ret))
		return cfg_err(c, "housekeeping", key, err, errlen, "%g: must be >= 0", *ret);
	return 0;
}

/* products_keep: a comma list of product names ([a-z0-9_]), kept normalised
 * as "a,b,c" for the plan's look-ups. */
static int parse_keep(const cfg *c, const char *v, char *out, size_t len, char *err,
		      size_t errlen)
{
	size_t k = 0;
	const char *p = v;

	out[0] = 0;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t') {
			if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
				return cfg_err(c, "housekeeping", "products_keep", err, errlen,
					       "'%s': expected product names (image, pbcor, residual,"
					       " psf, model, pb, vis ...) separated by commas", v);
			p++;
		}
		size_t n = (size_t)(p - s);
		if (k + n + 2 >= len)
			return cfg_err(c, "housekeeping", "products_keep", err, errlen, "too long");
		if (k)
			out[k++] = ',';
		memcpy(out + k, s, n);
		k += n;
		out[k] = 0;
	}
	return 0;
}

int house_settings_read(const cfg *c, const char *ingest_dir, house_settings *s, char *err,
			size_t errlen)
{
	house_settings o;
	const char *act, *to, *keep;
	int r;

	memset(&o, 0, sizeof o);
	for (int i = 0; i < HOUSE_NPATHS; i++)
		if ((r = nonneg(c, min_keys[i], min_defaults[i], &o.min_free_gb[i], err, errlen)) < 0)
			return r;
	if ((r = cfg_double(c, "housekeeping", "resume_free_factor", 1.1, &o.resume_free_factor,
			    err, errlen)) < 0)
		return r;
	if (!(o.resume_free_factor >= 1 && o.resume_free_factor <= 10))
		return cfg_err(c, "housekeeping", "resume_free_factor", err, errlen,
			       "%g: must be in 1..10", o.resume_free_factor);
	if ((r = nonneg(c, "guard_interval_s", 30, &o.guard_interval_s, err, errlen)) < 0 ||
	    (r = nonneg(c, "interval_s", 3600, &o.interval_s, err, errlen)) < 0 ||
	    (r = nonneg(c, "raw_keep_days", 0, &o.raw_keep_days, err, errlen)) < 0 ||
	    (r = nonneg(c, "calibrator_raw_keep_days", 0, &o.calibrator_raw_keep_days, err,
			errlen)) < 0 ||
	    (r = nonneg(c, "products_keep_days", 0, &o.products_keep_days, err, errlen)) < 0 ||
	    (r = nonneg(c, "scratch_keep_hours", 0, &o.scratch_keep_hours, err, errlen)) < 0)
		return r;
	if (o.guard_interval_s < 1)
		return cfg_err(c, "housekeeping", "guard_interval_s", err, errlen,
			       "%g: must be >= 1", o.guard_interval_s);
	if (o.interval_s < 1)
		return cfg_err(c, "housekeeping", "interval_s", err, errlen, "%g: must be >= 1",
			       o.interval_s);
	act = cfg_get_str(c, "housekeeping", "raw_action", "delete");
	if (!strcmp(act, "delete"))
		o.raw_action = HOUSE_RAW_DELETE;
	else if (!strcmp(act, "move"))
		o.raw_action = HOUSE_RAW_MOVE;
	else
		return cfg_err(c, "housekeeping", "raw_action", err, errlen,
			       "'%s': expected delete or move", act);
	to = cfg_get_str(c, "housekeeping", "raw_move_to", "");
	if (strlen(to) >= sizeof o.raw_move_to)
		return cfg_err(c, "housekeeping", "raw_move_to", err, errlen, "path too long");
	if (*to && to[0] != '/')
		return cfg_err(c, "housekeeping", "raw_move_to", err, errlen,
			       "'%s': must be an absolute path", to);
	snprintf(o.raw_move_to, sizeof o.raw_move_to, "%s", to);
	if (o.raw_action == HOUSE_RAW_MOVE && !*to)
		return cfg_err(c, "housekeeping", "raw_action", err, errlen,
			       "move needs raw_move_to (the directory the raw files go to)");
	if (*to && ingest_dir && *ingest_dir) {
		size_t n = strlen(ingest_dir);
		while (n > 1 && ingest_dir[n - 1] == '/')
			n--;
		if (!strncmp(to, ingest_dir, n) && (to[n] == 0 || to[n] == '/'))
			return cfg_err(c, "housekeeping", "raw_move_to", err, errlen,
				       "'%s' lies inside [paths] ingest_dir: the rescans would "
				       "register the moved files again", to);
	}
	keep = cfg_get_str(c, "housekeeping", "products_keep", "image, pbcor");
	if ((r = parse_keep(c, keep, o.products_keep, sizeof o.products_keep, err, errlen)) < 0)
		return r;
	*s = o;
	return 0;
}

int house_retention_on(const house_settings *s)
{
	return s->raw_keep_days > 0 || s->calibrator_raw_keep_days > 0 ||
	       s->products_keep_days > 0 || s->scratch_keep_hours > 0;
}

/* ---- 1. the guard ---- */

int house_space_measure(const char *path, house_space *sp, char *err, size_t errlen)
{
	struct statvfs v;

	sp->path = path;
	sp->free_bytes = -1;
	if (!path || !*path)
		return 0;
	if (statvfs(path, &v) < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	sp->free_bytes = (double)v.f_bavail * (double)v.f_frsize;
	return 0;
}

unsigned house_guard(const house_settings *s, const house_space sp[HOUSE_NPATHS],
		     unsigned prev_mask, char *reason, size_t len)
{
	unsigned mask = 0;
	size_t k = 0;

	if (reason && len)
		reason[0] = 0;
	for (int i = 0; i < HOUSE_NPATHS; i++) {
		double min = s->min_free_gb[i] * GB, f = sp[i].free_bytes;
		int held;

		if (!(min > 0) || !sp[i].path || !sp[i].path[0] || !(f >= 0))
			continue;
		held = (prev_mask & (1u << i)) ? f < min * s->resume_free_factor : f < min;
		if (!held)
			continue;
		mask |= 1u << i;
		if (reason && k + 1 < len) {
			int w = snprintf(reason + k, len - k, "%s%s free %.1f GB < %g GB", k ? "; " : "",
					 labels[i], f / GB,
					 (prev_mask & (1u << i)) && f >= min
						 ? s->min_free_gb[i] * s->resume_free_factor
						 : s->min_free_gb[i]);
			if (w > 0)
				k = (size_t)w >= len - k ? len - 1 : k + (size_t)w;
		}
	}
	return mask;
}

int house_is_nospace(int r, const char *msg)
{
	if (r == -ENOSPC || r == -EDQUOT)
		return 1;
	return msg && (strstr(msg, "No space left on device") || strstr(msg, "Disk quota exceeded") ||
		       strstr(msg, "database or disk is full"));
}

/* ---- 2. the plan ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int in_sorted(const char *const *v, size_t n, const char *key)
{
	return n && bsearch(&key, v, n, sizeof *v, cmp_str) != NULL;
}

/* Is name in the normalised comma list? */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t m = e ? (size_t)(e - p) : strlen(p);
		if (m == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

typedef struct plan_buf {
	house_action *a;
	size_t n, cap;
} plan_buf;

static house_action *plan_add(plan_buf *b)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? 2 * b->cap : 64;
		house_action *v = realloc(b->a, nc * sizeof *v);
		if (!v)
			return NULL;
		b->a = v;
		b->cap = nc;
	}
	memset(&b->a[b->n], 0, sizeof b->a[b->n]);
	return &b->a[b->n++];
}

int house_plan(const house_settings *s, double now, const house_group *groups, size_t ngroups,
	       const char *const *protect, size_t nprotect, const char *const *busy, size_t nbusy,
	       const house_scratch *scratch, size_t nscratch, house_action **ret, size_t *ret_n,
	       char *err, size_t errlen)
{
	plan_buf b = { 0 };
	const char **prot = NULL, **bz = NULL;
	int r = 0;

	/* Sorted copies for the look-ups (the inputs stay the caller's). */
	if (nprotect && !(prot = malloc(nprotect * sizeof *prot)))
		goto nomem;
	if (nbusy && !(bz = malloc(nbusy * sizeof *bz)))
		goto nomem;
	for (size_t i = 0; i < nprotect; i++)
		prot[i] = protect[i];
	for (size_t i = 0; i < nbusy; i++)
		bz[i] = busy[i];
	if (nprotect)
		qsort(prot, nprotect, sizeof *prot, cmp_str);
	if (nbusy)
		qsort(bz, nbusy, sizeof *bz, cmp_str);

	for (size_t gi = 0; gi < ngroups; gi++) {
		const house_group *g = &groups[gi];
		double age_d = (now - g->finished_at) / DAY_S;
		double raw_keep = g->calibrator ? s->calibrator_raw_keep_days : s->raw_keep_days;
		int raw_due, prod_due;

		/* Only a finished, unchanged group gives its files up; and never
		 * one whose name a running group has (the same group, read
		 * between our look-ups). */
		if (strcmp(g->state, "completed") || g->stale || in_sorted(bz, nbusy, g->name))
			continue;
		/* The raw rule applies only when raw retention is on at all: a
		 * calibrator_raw_keep_days alone does not start deleting. */
		raw_due = s->raw_keep_days > 0 && raw_keep > 0 && age_d > raw_keep;
		prod_due = s->products_keep_days > 0 && age_d > s->products_keep_days;
		if (!raw_due && !prod_due)
			continue;
		for (size_t fi = 0; fi < g->nfiles; fi++) {
			const house_file *f = &g->files[fi];
			house_action *a;

			if (!f->path || in_sorted(prot, nprotect, f->path))
				continue;
			if (f->kind == HOUSE_KIND_RAW ? !raw_due
						      : !prod_due || listed(s->products_keep, f->name))
				continue;
			if (!(a = plan_add(&b)))
				goto nomem;
			a->kind = f->kind;
			a->group_id = g->id;
			snprintf(a->group, sizeof a->group, "%s", g->name);
			snprintf(a->name, sizeof a->name, "%s", f->name);
			a->bytes = f->bytes;
			a->gone = f->gone;
			if (!(a->path = strdup(f->path))) {
				b.n--;
				goto nomem;
			}
			if (f->kind == HOUSE_KIND_RAW && s->raw_action == HOUSE_RAW_MOVE) {
				const char *base = strrchr(f->path, '/');
				size_t len = strlen(s->raw_move_to) + strlen(f->path) + 16;
				a->action = HOUSE_MOVE;
				base = base ? base + 1 : f->path;
				if (!(a->dest = malloc(len))) {
					free(a->path);
					b.n--;
					goto nomem;
				}
				/* One directory per observing day, as products_dir has. */
				snprintf(a->dest, len, "%s/%.10s/%s", s->raw_move_to, g->name, base);
			} else {
				a->action = HOUSE_DELETE;
			}
			if (f->kind == HOUSE_KIND_RAW)
				snprintf(a->why, sizeof a->why, "%s = %g: completed %.1f days ago",
					 g->calibrator ? "calibrator_raw_keep_days" : "raw_keep_days",
					 raw_keep, age_d);
			else
				snprintf(a->why, sizeof a->why,
					 "products_keep_days = %g: completed %.1f days ago",
					 s->products_keep_days, age_d);
		}
	}
	if (s->scratch_keep_hours > 0) {
		for (size_t i = 0; i < nscratch; i++) {
			const house_scratch *x = &scratch[i];
			double age_h = (now - x->mtime) / 3600;
			house_action *a;

			if (!x->path || in_sorted(bz, nbusy, x->name) ||
			    queue_parse_group_name(x->name, NULL) < 0 || !(age_h > s->scratch_keep_hours))
				continue;
			if (!(a = plan_add(&b)))
				goto nomem;
			a->kind = HOUSE_KIND_SCRATCH;
			a->action = HOUSE_RMDIR;
			snprintf(a->group, sizeof a->group, "%s", x->name);
			a->bytes = x->bytes;
			if (!(a->path = strdup(x->path))) {
				b.n--;
				goto nomem;
			}
			snprintf(a->why, sizeof a->why, "scratch_keep_hours = %g: unchanged %.1f hours",
				 s->scratch_keep_hours, age_h);
		}
	}
	if (b.n == 0) {
		free(b.a);
		b.a = NULL;
	}
	*ret = b.a;
	*ret_n = b.n;
	goto out;
nomem:
	house_actions_free(b.a, b.n);
	r = err_set(err, errlen, -ENOMEM, "retention plan: out of memory");
out:
	free(prot);
	free(bz);
	return r;
}

void house_actions_free(house_action *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		free(a[i].path);
		free(a[i].dest);
	}
	free(a);
}

void house_groups_free(house_group *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++) {
		for (size_t k = 0; k < g[i].nfiles; k++)
			free(g[i].files[k].path);
		free(g[i].files);
	}
	free(g);
}

void house_scratch_free(house_scratch *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		free(s[i].path);
	free(s);
}

/* ---- 3. gathering ---- */

/* The youngest age (seconds) at which any file rule acts; < 0 when none is on. */
static double youngest_age_s(const house_settings *s)
{
	double d = -1;
	double v[3] = { s->raw_keep_days > 0 ? s->raw_keep_days : 0,
			s->raw_keep_days > 0 ? s->calibrator_raw_keep_days : 0,
			s->products_keep_days };
	for (int i = 0; i < 3; i++)
		if (v[i] > 0 && (d < 0 || v[i] < d))
			d = v[i];
	return d < 0 ? -1 : d * DAY_S;
}

/* The bytes of the regular files directly in dir. */
static int64_t dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int64_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			n += st.st_size;
	}
	closedir(d);
	return n;
}

static int gather_scratch(const char *scratch_dir, house_input *in, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *e;
	size_t cap = 0;

	if (!scratch_dir || !*scratch_dir)
		return 0;
	d = opendir(scratch_dir);
	if (!d)
		return errno == ENOENT ? 0
				       : err_set(err, errlen, -errno, "%s: %s", scratch_dir,
						 strerror(errno));
	while ((e = readdir(d))) {
		struct stat st;
		char path[4200];
		house_scratch *x;

		if (queue_parse_group_name(e->d_name, NULL) < 0 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", scratch_dir, e->d_name) >= sizeof path)
			continue;
		if (in->nscratch == cap) {
			size_t nc = cap ? 2 * cap : 16;
			house_scratch *v = realloc(in->scratch, nc * sizeof *v);
			if (!v)
				goto nomem;
			in->scratch = v;
			cap = nc;
		}
		x = &in->scratch[in->nscratch];
		memset(x, 0, sizeof *x);
		snprintf(x->name, sizeof x->name, "%.31s", e->d_name); /* a group name: 19 chars */
		if (!(x->path = strdup(path)))
			goto nomem;
		x->mtime = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
		x->bytes = dir_bytes(path);
		in->nscratch++;
	}
	closedir(d);
	return 0;
nomem:
	closedir(d);
	return err_set(err, errlen, -ENOMEM, "scratch listing: out of memory");
}

int house_gather(sqlite3 *db, const house_settings *s, const char *scratch_dir, double now,
		 int64_t after_id, int max_groups, int with_protect, int with_scratch,
		 house_input *in, int64_t *ret_last_id, char *err, size_t errlen)
{
	housedb_row *rows = NULL;
	size_t nrows = 0;
	double age = youngest_age_s(s);
	int64_t last = after_id;
	int r;

	memset(in, 0, sizeof *in);
	if (with_protect &&
	    ((r = housedb_protected(db, &in->protect, &in->nprotect, err, errlen)) < 0 ||
	     (r = housedb_busy(db, &in->busy, &in->nbusy, err, errlen)) < 0))
		goto fail;
	if (age > 0 && max_groups > 0) {
		r = housedb_candidates(db, now - age, after_id, max_groups, &rows, &nrows, &last, err,
				       errlen);
		if (r < 0)
			goto fail;
		/* Rows come ordered by group: one house_group per run of rows. */
		for (size_t i = 0; i < nrows;) {
			size_t j = i;
			house_group *g;
			while (j < nrows && rows[j].group_id == rows[i].group_id)
				j++;
			house_group *v = realloc(in->groups, (in->ngroups + 1) * sizeof *v);
			if (!v)
				goto nomem;
			in->groups = v;
			g = &in->groups[in->ngroups++];
			memset(g, 0, sizeof *g);
			g->id = rows[i].group_id;
			snprintf(g->name, sizeof g->name, "%s", rows[i].group);
			snprintf(g->state, sizeof g->state, "completed");
			g->finished_at = rows[i].finished_at;
			g->stale = rows[i].stale;
			g->calibrator = rows[i].calibrator;
			if (!(g->files = calloc(j - i, sizeof *g->files)))
				goto nomem;
			for (size_t k = i; k < j; k++) {
				house_file *f = &g->files[g->nfiles++];
				struct stat st;
				f->kind = rows[k].product ? HOUSE_KIND_PRODUCT : HOUSE_KIND_RAW;
				snprintf(f->name, sizeof f->name, "%s", rows[k].name);
				f->path = rows[k].path;
				rows[k].path = NULL;
				if (lstat(f->path, &st) == 0)
					f->bytes = st.st_size;
				else
					f->gone = errno == ENOENT;
			}
			i = j;
		}
	}
	housedb_rows_free(rows, nrows);
	rows = NULL;
	if (with_scratch && s->scratch_keep_hours > 0 &&
	    (r = gather_scratch(scratch_dir, in, err, errlen)) < 0)
		goto fail;
	*ret_last_id = last;
	return 0;
nomem:
	r = err_set(err, errlen, -ENOMEM, "retention: out of memory");
fail:
	housedb_rows_free(rows, nrows);
	house_input_release(in);
	return r;
}

void house_input_release(house_input *in)
{
	house_groups_free(in->groups, in->ngroups);
	housedb_strings_free(in->protect, in->nprotect);
	housedb_strings_free(in->busy, in->nbusy);
	house_scratch_free(in->scratch, in->nscratch);
	memset(in, 0, sizeof *in);
}

/* ---- 3. execution ---- */

/* Copy src to dst (new, exclusive), fsync it: a move across file systems. */
static int copy_file(const char *src, const char *dst)
{
	char buf[1 << 16];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		r = -errno;
		goto out;
	}
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0) {
				if (errno == EINTR)
					continue;
				r = -errno;
				goto out;
			}
			w += k;
		}
	}
	if (fsync(out) < 0)
		r = -errno;
out:
	if (out >= 0 && close(out) < 0 && !r)
		r = -errno;
	close(in);
	if (r < 0 && out >= 0)
		unlink(dst);
	return r;
}

/* Move path to dest (its directory made): rename, or copy + unlink across
 * file systems.  A file already at dest is never overwritten. */
static int move_file(const char *path, const char *dest)
{
	char dir[4200];
	const char *slash = strrchr(dest, '/');
	int r;

	if (!slash || (size_t)(slash - dest) >= sizeof dir)
		return -ENAMETOOLONG;
	memcpy(dir, dest, (size_t)(slash - dest));
	dir[slash - dest] = 0;
	if ((r = util_mkdir_p(dir)) < 0)
		return r;
	if (access(dest, F_OK) == 0)
		return -EEXIST;
	if (rename(path, dest) == 0)
		return 0;
	if (errno != EXDEV)
		return -errno;
	if ((r = copy_file(path, dest)) < 0)
		return r;
	return unlink(path) < 0 ? -errno : 0;
}

/* Remove the regular files in dir, then dir (a scratch directory holds only
 * copies).  0 or -errno of the rmdir. */
static int remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	return rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
}

static void first_error(char *err, size_t errlen, int *have, const char *fmt, const char *a,
			const char *b)
{
	if (*have || !err || !errlen)
		return;
	snprintf(err, errlen, fmt, a, b);
	*have = 1;
}

/* One group's file actions a[0..n-1]: recorded, then carried out. */
static int execute_group(sqlite3 *db, const house_action *a, size_t n, double now,
			 house_stats *st, char *err, size_t errlen, int *have_err)
{
	char e[ERR_LEN];
	int r, ok, nraw = 0, nprod = 0;
	int64_t raw_bytes = 0;
	unsigned char *todo = calloc(n ? n : 1, 1);

	if (!todo)
		return err_set(err, errlen, -ENOMEM, "retention: out of memory");
	r = db_begin(db, e, sizeof e);
	if (r < 0)
		goto db_fail;
	ok = housedb_group_removable(db, a[0].group_id, e, sizeof e);
	if (ok < 0) {
		r = ok;
		db_end(db, 0, NULL, 0);
		goto db_fail;
	}
	if (!ok) {
		db_end(db, 0, NULL, 0);
		st->skipped += (int)n;
		free(todo);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		/* Only regular files: never follow a link the registration refused. */
		if (a[i].gone) {
			todo[i] = 2;
		} else if (lstat(a[i].path, &sb) < 0) {
			if (errno != ENOENT) {
				st->skipped++;
				continue;
			}
			todo[i] = 2; /* gone meanwhile: record only */
		} else if (!S_ISREG(sb.st_mode)) {
			st->skipped++;
			continue;
		} else {
			todo[i] = 1;
		}
		r = housedb_record(db, a[i].group_id, a[i].kind == HOUSE_KIND_RAW ? "raw" : "product",
				   a[i].name, a[i].path, a[i].bytes,
				   a[i].action == HOUSE_MOVE ? "move" : "delete", a[i].dest, now, e,
				   sizeof e);
		if (r < 0) {
			db_end(db, 0, NULL, 0);
			goto db_fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!todo[i])
			continue;
		if (a[i].kind == HOUSE_KIND_RAW) {
			nraw++;
			raw_bytes += a[i].bytes;
		} else {
			nprod++;
		}
	}
	if (nraw || nprod) {
		char msg[300];
		const house_action *w = &a[0];
		for (size_t i = 0; i < n; i++)
			if (todo[i] && a[i].kind == HOUSE_KIND_RAW) {
				w = &a[i];
				break;
			}
		snprintf(msg, sizeof msg, "retention: %d raw file(s) (%.2f GB) %s, %d product file(s)"
			 " deleted (%s)", nraw, raw_bytes / GB,
			 w->action == HOUSE_MOVE ? "moved" : "deleted", nprod, w->why);
		r = queue_event(db, a[0].group_id, "retention", NULL, msg, e, sizeof e);
		if (r < 0) {
			db_end(db, 0, NULL, 0);
			goto db_fail;
		}
	}
	r = db_end(db, 1, e, sizeof e);
	if (r < 0)
		goto db_fail;
	/* Recorded: now the files go.  A failure forgets its record again. */
	for (size_t i = 0; i < n; i++) {
		if (!todo[i])
			continue;
		if (todo[i] == 2) {
			st->done++;
			continue;
		}
		r = a[i].action == HOUSE_MOVE ? move_file(a[i].path, a[i].dest)
		    : unlink(a[i].path) < 0 && errno != ENOENT ? -errno
							       : 0;
		if (r < 0) {
			st->failed++;
			first_error(err, errlen, have_err, "%s: %s", a[i].path, strerror(-r));
			housedb_unrecord(db, a[i].path, NULL, 0);
			continue;
		}
		st->done++;
		st->bytes += a[i].bytes;
	}
	free(todo);
	return 0;
db_fail:
	free(todo);
	return err_set(err, errlen, r, "%s", e);
}

int house_execute(sqlite3 *db, const house_settings *s, const house_action *a, size_t n,
		  double now, house_stats *ret, char *err, size_t errlen)
{
	house_stats st = { 0 };
	int have_err = 0, r = 0;
	(void)s;

	if (err && errlen)
		err[0] = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		if (a[i].kind == HOUSE_KIND_SCRATCH) {
			int k = remove_dir(a[i].path);
			if (k < 0) {
				st.failed++;
				first_error(err, errlen, &have_err, "%s: %s", a[i].path, strerror(-k));
			} else {
				st.done++;
				st.bytes += a[i].bytes;
			}
			i++;
			continue;
		}
		while (j < n && a[j].kind != HOUSE_KIND_SCRATCH && a[j].group_id == a[i].group_id)
			j++;
		r = execute_group(db, a + i, j - i, now, &st, err, errlen, &have_err);
		if (r < 0)
			break;
		i = j;
	}
	if (ret)
		*ret = st;
	return r;
}

int house_run_each(sqlite3 *db, const house_settings *s, const char *scratch_dir, double now,
		   int dry_run, house_action_fn fn, void *arg, house_stats *ret_stats, char *err,
		   size_t errlen)
{
	house_stats total = { 0 };
	house_input keep;
	int64_t after = 0, last = 0;
	int r = 0, stop = 0;

	if (err && errlen)
		err[0] = 0;
	/* The paths and groups that must survive, once for the whole run. */
	r = house_gather(db, s, scratch_dir, now, 0, 0, 1, 0, &keep, &last, err, errlen);
	if (r < 0)
		return r;
	/* Batches of groups, then one pass for scratch (no groups). */
	for (int scratch = 0; scratch < 2 && !stop && r == 0;) {
		house_input in;
		house_action *a = NULL;
		size_t n = 0;
		house_stats st = { 0 };
		char e[ERR_LEN] = "";

		r = house_gather(db, s, scratch_dir, now, after, scratch ? 0 : HOUSE_BATCH_GROUPS, 0,
				 scratch, &in, &last, err, errlen);
		if (r < 0)
			break;
		r = house_plan(s, now, in.groups, in.ngroups, (const char *const *)keep.protect,
			       keep.nprotect, (const char *const *)keep.busy, keep.nbusy, in.scratch,
			       in.nscratch, &a, &n, err, errlen);
		house_input_release(&in);
		if (r < 0)
			break;
		if (!dry_run && n) {
			r = house_execute(db, s, a, n, now, &st, e, sizeof e);
			if (r < 0)
				err_set(err, errlen, r, "%s", e);
			total.done += st.done;
			total.skipped += st.skipped;
			total.failed += st.failed;
			total.bytes += st.bytes;
			/* The first failure's message is the one reported. */
			if (e[0] && err && errlen && !err[0])
				snprintf(err, errlen, "%s", e);
		}
		for (size_t i = 0; r == 0 && fn && i < n && !stop; i++)
			stop = fn(&a[i], arg) != 0;
		house_actions_free(a, n);
		if (scratch || last <= after)
			scratch++;
		else
			after = last;
	}
	house_input_release(&keep);
	if (ret_stats)
		*ret_stats = total;
	return r;
}

typedef struct collect {
	house_action *a;
	size_t n, cap;
	int oom;
} collect;

static int collect_one(const house_action *x, void *arg)
{
	collect *c = arg;
	house_action *d;

	if (c->n == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 64;
		house_action *v = realloc(c->a, nc * sizeof *v);
		if (!v)
			return c->oom = 1;
		c->a = v;
		c->cap = nc;
	}
	d = &c->a[c->n];
	*d = *x;
	d->path = strdup(x->path);
	d->dest = x->dest ? strdup(x->dest) : NULL;
	if (!d->path || (x->dest && !d->dest)) {
		free(d->path);
		free(d->dest);
		return c->oom = 1;
	}
	c->n++;
	return 0;
}

int house_run(sqlite3 *db, const house_settings *s, const char *scratch_dir, double now,
	      int dry_run, house_action **ret_actions, size_t *ret_n, house_stats *ret_stats,
	      char *err, size_t errlen)
{
	collect c = { 0 };
	int r = house_run_each(db, s, scratch_dir, now, dry_run, ret_actions ? collect_one : NULL,
			       &c, ret_stats, err, errlen);

	if (r == 0 && c.oom)
		r = err_set(err, errlen, -ENOMEM, "retention: out of memory");
	if (r < 0 || !ret_actions) {
		house_actions_free(c.a, c.n);
		return r;
	}
	if (c.n == 0) {
		free(c.a);
		c.a = NULL;
	}
	*ret_actions = c.a;
	*ret_n = c.n;
	return 0;
}
