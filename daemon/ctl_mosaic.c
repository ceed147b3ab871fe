/*
 * daemon/ctl_mosaic.c — `contimgctl mosaic plan|build` (two rows of the
 * command table in contimgctl.c): PB-weighted linear mosaics of the pbcor
 * images in a time window (imaging/mosaic.h, state/mosaicdb.h;
 * docs/mosaic.md, docs/cli.md).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/astro.h"
#include "core/config.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/pipeline.h"
#include "daemon/util.h"
#include "imaging/mosaic.h"
#include "state/db.h"
#include "state/mosaicdb.h"

#define DEG (M_PI / 180.0)
#define ARCSEC (M_PI / 648000.0)

static void mjd_iso(double mjd, char *buf, size_t len)
{
	if (astro_jd_to_iso(astro_mjd_to_jd(mjd), 0, buf, len) < 0)
		snprintf(buf, len, "?");
}

/* The command's options (both subcommands parse the same set). */
typedef struct opts {
	int json;
	int have_start, have_end, have_around;
	double start_mjd, end_mjd, around_mjd, minutes;
	int near;
	double near_ra_deg, near_dec_deg, radius_deg;
	const char *out;
	double cell_arcsec;       /* 0: [mosaic] cell_arcsec */
	double pb_cut;            /* 0: [mosaic] pb_cut */
} opts;

static int parse_time(const char *s, double *ret_mjd)
{
	double jd;
	if (astro_iso_to_jd(s, &jd) < 0) {
		fprintf(stderr, "contimgctl mosaic: bad time '%s' (want YYYY-MM-DDTHH:MM:SS)\n", s);
		return -1;
	}
	*ret_mjd = astro_jd_to_mjd(jd);
	return 0;
}

static int parse_num(const char *s, double *ret, const char *what)
{
	char *e;
	double v = strtod(s, &e);
	if (e == s || *e || !isfinite(v)) {
		fprintf(stderr, "contimgctl mosaic: %s: '%s' is not a number\n", what, s);
		return -1;
	}
	*ret = v;
	return 0;
}

static int parse_opts(int argc, char **argv, int build, opts *o)
{
	memset(o, 0, sizeof *o);
	o->radius_deg = 3.0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;
		if (!strcmp(a, "--json")) {
			o->json = 1;
		} else if (!strcmp(a, "--start") && more) {
			if (parse_time(argv[++i], &o->start_mjd) < 0)
				return -1;
			o->have_start = 1;
		} else if (!strcmp(a, "--end") && more) {
			if (parse_time(argv[++i], &o->end_mjd) < 0)
				return -1;
			o->have_end = 1;
		} else if (!strcmp(a, "--around") && more) {
			if (parse_time(argv[++i], &o->around_mjd) < 0)
				return -1;
			o->have_around = 1;
		} else if (!strcmp(a, "--minutes") && more) {
			if (parse_num(argv[++i], &o->minutes, "--minutes") < 0)
				return -1;
		} else if (!strcmp(a, "--near") && i + 2 < argc) {
			if (parse_num(argv[i + 1], &o->near_ra_deg, "--near RA") < 0 ||
			    parse_num(argv[i + 2], &o->near_dec_deg, "--near DEC") < 0)
				return -1;
			i += 2;
			o->near = 1;
		} else if (!strcmp(a, "--radius") && more) {
			if (parse_num(argv[++i], &o->radius_deg, "--radius") < 0)
				return -1;
		} else if (build && !strcmp(a, "--out") && more) {
			o->out = argv[++i];
		} else if (build && !strcmp(a, "--cell") && more) {
			if (parse_num(argv[++i], &o->cell_arcsec, "--cell") < 0 ||
			    !(o->cell_arcsec > 0)) {
				fprintf(stderr, "contimgctl mosaic: --cell must be > 0 arcsec\n");
				return -1;
			}
		} else if (build && !strcmp(a, "--pb-cut") && more) {
			if (parse_num(argv[++i], &o->pb_cut, "--pb-cut") < 0 ||
			    !(o->pb_cut > 0 && o->pb_cut < 1)) {
				fprintf(stderr, "contimgctl mosaic: --pb-cut must be in (0, 1)\n");
				return -1;
			}
		} else {
			fprintf(stderr, "contimgctl mosaic: unknown or incomplete option %s\n", a);
			return -1;
		}
	}
	if (o->have_around) {
		if (o->have_start || o->have_end || !(o->minutes > 0)) {
			fprintf(stderr, "contimgctl mosaic: --around needs --minutes N > 0 and "
					"excludes --start/--end\n");
			return -1;
		}
		o->start_mjd = o->around_mjd - o->minutes / 2 / 1440.0;
		o->end_mjd = o->around_mjd + o->minutes / 2 / 1440.0;
	} else if (!o->have_start || !o->have_end) {
		fprintf(stderr, "contimgctl mosaic: give --start ISO --end ISO or --around ISO "
				"--minutes N\n");
		return -1;
	} else if (o->minutes > 0) {
		fprintf(stderr, "contimgctl mosaic: --minutes goes with --around\n");
		return -1;
	}
	if (!(o->end_mjd >= o->start_mjd)) {
		fprintf(stderr, "contimgctl mosaic: the window ends before it starts\n");
		return -1;
	}
	if (o->near && !(o->radius_deg > 0)) {
		fprintf(stderr, "contimgctl mosaic: --radius must be > 0\n");
		return -1;
	}
	return 0;
}

static int plan_tiles(const pipe_settings *s, const opts *o, mosaicdb_tile **ret, int *ret_n)
{
	char err[ERR_LEN];
	sqlite3 *db = NULL;
	int r = ctl_open_db(s, 0, 0, &db);

	if (r != CTL_OK)
		return r;
	r = mosaicdb_plan(db, o->start_mjd, o->end_mjd, o->near, o->near_ra_deg, o->near_dec_deg,
			  o->radius_deg, ret, ret_n, err, sizeof err);
	db_close(db);
	if (r < 0) {
		fprintf(stderr, "contimgctl mosaic: %s\n", err);
		return CTL_UNREACHABLE;
	}
	return CTL_OK;
}

static int tile_present(const mosaicdb_tile *t)
{
	return access(t->path, R_OK) == 0 && t->pb_path[0] && access(t->pb_path, R_OK) == 0;
}

static json_object *tile_json(const mosaicdb_tile *t)
{
	json_object *o = json_object_new_object();
	char iso[40];

	mjd_iso(t->mid_mjd, iso, sizeof iso);
	json_object_object_add(o, "group_id", json_object_new_string(t->group));
	json_object_object_add(o, "mid_time", json_object_new_string(iso));
	json_object_object_add(o, "mid_mjd", json_object_new_double(t->mid_mjd));
	json_object_object_add(o, "ra_deg", json_object_new_double(t->ra_deg));
	json_object_object_add(o, "dec_deg", json_object_new_double(t->dec_deg));
	json_object_object_add(o, "noise_jy", t->noise_jy > 0 ? json_object_new_double(t->noise_jy)
							    : NULL);
	json_object_object_add(o, "nx", json_object_new_int(t->nx));
	json_object_object_add(o, "cell_arcsec", json_object_new_double(t->cell_arcsec));
	json_object_object_add(o, "calibrated", json_object_new_boolean(t->calibrated));
	json_object_object_add(o, "path", json_object_new_string(t->path));
	json_object_object_add(o, "pb_path", json_object_new_string(t->pb_path));
	json_object_object_add(o, "files_present", json_object_new_boolean(tile_present(t)));
	return o;
}

static void window_json(json_object *o, const opts *op)
{
	char a[40], b[40];
	mjd_iso(op->start_mjd, a, sizeof a);
	mjd_iso(op->end_mjd, b, sizeof b);
	json_object_object_add(o, "start", json_object_new_string(a));
	json_object_object_add(o, "end", json_object_new_string(b));
	json_object_object_add(o, "start_mjd", json_object_new_double(op->start_mjd));
	json_object_object_add(o, "end_mjd", json_object_new_double(op->end_mjd));
}

static int mosaic_plan_cmd(const pipe_settings *s, const opts *o)
{
	mosaicdb_tile *t = NULL;
	int n = 0, rc = plan_tiles(s, o, &t, &n);

	if (rc != CTL_OK)
		return rc;
	if (o->json) {
		json_object *root = json_object_new_object(), *a = json_object_new_array();
		window_json(root, o);
		json_object_object_add(root, "ntiles", json_object_new_int(n));
		for (int k = 0; k < n; k++)
			json_object_array_add(a, tile_json(&t[k]));
		json_object_object_add(root, "tiles", a);
		ctl_print_json(root);
		json_object_put(root);
	} else {
		char a[40], b[40];
		mjd_iso(o->start_mjd, a, sizeof a);
		mjd_iso(o->end_mjd, b, sizeof b);
		printf("%d tile%s between %s and %s UTC\n", n, n == 1 ? "" : "s", a, b);
		if (n)
			printf("%-20s %-20s %10s %10s %10s  %s\n", "group", "mid (UTC)", "ra_deg",
			       "dec_deg", "noise_mJy", "pbcor");
		for (int k = 0; k < n; k++) {
			mjd_iso(t[k].mid_mjd, a, sizeof a);
			printf("%-20s %-20s %10.4f %10.4f %10.3f  %s%s\n", t[k].group, a, t[k].ra_deg,
			       t[k].dec_deg, t[k].noise_jy * 1e3, t[k].path,
			       tile_present(&t[k]) ? "" : "  (files missing)");
		}
	}
	free(t);
	return CTL_OK;
}

/* "x/y/name.fits" → base "x/y/name", name "name". */
static void split_out(const char *out, char *base, size_t blen, char *name, size_t nlen)
{
	size_t n = strlen(out);
	const char *slash;

	if (n > 5 && !strcmp(out + n - 5, ".fits"))
		n -= 5;
	snprintf(base, blen, "%.*s", (int)n, out);
	slash = strrchr(base, '/');
	snprintf(name, nlen, "%.255s", slash ? slash + 1 : base);
}

static int mosaic_build_cmd(const cfg *c, const pipe_settings *s, const opts *o)
{
	char err[ERR_LEN] = "", out[4096], base[4096], name[256], wpath[4200], npath[4200];
	char a[40], b[40], *groups = NULL;
	mosaicdb_tile *t = NULL;
	mosaic_tile *mt = NULL;
	mosaic_result *m = NULL;
	mosaic_params p;
	sqlite3 *db = NULL;
	int n = 0, rc, r;
	int64_t id = 0;

	rc = plan_tiles(s, o, &t, &n);
	if (rc != CTL_OK)
		return rc;
	/* A tile whose files were removed (products cleaned up) is left out
	 * with a warning rather than failing the whole mosaic. */
	{
		int kept = 0;
		for (int k = 0; k < n; k++) {
			if (!tile_present(&t[k])) {
				fprintf(stderr, "contimgctl mosaic: warning: %s: %s or its pb image "
						"is missing; left out\n", t[k].group, t[k].path);
				continue;
			}
			t[kept++] = t[k];
		}
		n = kept;
	}
	if (n == 0) {
		mjd_iso(o->start_mjd, a, sizeof a);
		mjd_iso(o->end_mjd, b, sizeof b);
		fprintf(stderr, "contimgctl mosaic: no pbcor images between %s and %s UTC\n", a, b);
		rc = CTL_NOT_FOUND;
		goto out;
	}
	mosaic_params_default(&p);
	p.nthreads = s->threads;
	double cell = o->cell_arcsec, cut = o->pb_cut;
	int max_size = p.max_size;
	if ((!(cell > 0) &&
	     cfg_double(c, "mosaic", "cell_arcsec", 0, &cell, err, sizeof err) < 0) ||
	    (!(cut > 0) && cfg_double(c, "mosaic", "pb_cut", p.pb_cut, &cut, err, sizeof err) < 0) ||
	    cfg_int(c, "mosaic", "max_size", p.max_size, &max_size, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl mosaic: %s\n", err);
		rc = CTL_USAGE;
		goto out;
	}
	if (cell < 0 || !(cut > 0 && cut < 1) || max_size < 16) {
		fprintf(stderr, "contimgctl mosaic: [mosaic] cell_arcsec >= 0, 0 < pb_cut < 1, "
				"max_size >= 16 required\n");
		rc = CTL_USAGE;
		goto out;
	}
	p.cell_rad = cell * ARCSEC;
	p.pb_cut = cut;
	p.max_size = max_size;

	/* Output names: --out, else [mosaic] dir (products_dir/mosaics) with the window. */
	mjd_iso(o->start_mjd, a, sizeof a);
	mjd_iso(o->end_mjd, b, sizeof b);
	if (o->out && o->out[0] != '/') {
		/* The database records absolute paths. */
		char cwd[2048];
		if (!getcwd(cwd, sizeof cwd) ||
		    (size_t)snprintf(out, sizeof out, "%s/%s", cwd, o->out) >= sizeof out) {
			fprintf(stderr, "contimgctl mosaic: cannot make --out absolute\n");
			rc = CTL_USAGE;
			goto out;
		}
	} else if (o->out) {
		snprintf(out, sizeof out, "%s", o->out);
	} else {
		char dflt[4200];
		snprintf(dflt, sizeof dflt, "%s/mosaics", s->products_dir);
		const char *dir = cfg_get_str(c, "mosaic", "dir", "");
		if (!dir[0])
			dir = dflt;
		r = util_mkdir_p(dir);
		if (r < 0) {
			fprintf(stderr, "contimgctl mosaic: cannot create %s: %s\n", dir,
				strerror(-r));
			rc = CTL_FAILED;
			goto out;
		}
		if ((size_t)snprintf(out, sizeof out, "%s/mosaic_%s_%s.fits", dir, a, b) >=
		    sizeof out) {
			fprintf(stderr, "contimgctl mosaic: [mosaic] dir too long\n");
			rc = CTL_USAGE;
			goto out;
		}
	}
	split_out(out, base, sizeof base, name, sizeof name);
	snprintf(wpath, sizeof wpath, "%s.weight.fits", base);
	snprintf(npath, sizeof npath, "%s.noise.fits", base);

	mt = calloc(n, sizeof *mt);
	groups = calloc(n, 66);
	if (!mt || !groups) {
		fprintf(stderr, "contimgctl mosaic: out of memory\n");
		rc = CTL_FAILED;
		goto out;
	}
	for (int k = 0; k < n; k++) {
		mt[k].pbcor_path = t[k].path;
		mt[k].pb_path = t[k].pb_path;
		mt[k].sigma_jy = t[k].noise_jy;
		mt[k].name = t[k].group;
		if (k)
			strcat(groups, ",");
		strcat(groups, t[k].group);
	}
	r = mosaic_build(mt, n, &p, &m, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "contimgctl mosaic: %s\n", err);
		rc = r == -EINVAL || r == -ERANGE ? CTL_USAGE : CTL_FAILED;
		goto out;
	}
	if ((r = mosaic_write(m, MOSAIC_IMAGE, out, err, sizeof err)) < 0 ||
	    (r = mosaic_write(m, MOSAIC_WEIGHT, wpath, err, sizeof err)) < 0 ||
	    (r = mosaic_write(m, MOSAIC_NOISE, npath, err, sizeof err)) < 0) {
		fprintf(stderr, "contimgctl mosaic: %s\n", err);
		rc = CTL_FAILED;
		goto out;
	}
	mosaicdb_row row = {
		.name = name, .path = out, .weight_path = wpath, .noise_path = npath,
		.created = (double)time(NULL), .t_start_mjd = o->start_mjd,
		.t_end_mjd = o->end_mjd, .ntiles = n, .ra_deg = m->ra0_rad / DEG,
		.dec_deg = m->dec0_rad / DEG, .nx = m->nx, .ny = m->ny,
		.cell_arcsec = m->cell_rad / ARCSEC, .groups = groups,
	};
	if (db_open(s->db_path, 0, &db, err, sizeof err) < 0 ||
	    mosaicdb_record(db, &row, &id, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl mosaic: %s written but not registered: %s\n", out, err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	if (o->json) {
		json_object *root = json_object_new_object(), *g = json_object_new_array();
		json_object_object_add(root, "id", json_object_new_int64(id));
		json_object_object_add(root, "name", json_object_new_string(name));
		json_object_object_add(root, "path", json_object_new_string(out));
		json_object_object_add(root, "weight_path", json_object_new_string(wpath));
		json_object_object_add(root, "noise_path", json_object_new_string(npath));
		window_json(root, o);
		json_object_object_add(root, "ntiles", json_object_new_int(n));
		for (int k = 0; k < n; k++)
			json_object_array_add(g, json_object_new_string(t[k].group));
		json_object_object_add(root, "groups", g);
		json_object_object_add(root, "ra_deg", json_object_new_double(m->ra0_rad / DEG));
		json_object_object_add(root, "dec_deg", json_object_new_double(m->dec0_rad / DEG));
		json_object_object_add(root, "nx", json_object_new_int(m->nx));
		json_object_object_add(root, "ny", json_object_new_int(m->ny));
		json_object_object_add(root, "cell_arcsec",
				       json_object_new_double(m->cell_rad / ARCSEC));
		ctl_print_json(root);
		json_object_put(root);
	} else {
		printf("%s\n", out);
	}
	rc = CTL_OK;
out:
	db_close(db);
	mosaic_result_free(m);
	free(mt);
	free(groups);
	free(t);
	return rc;
}

/* The table's rows `mosaic plan` and `mosaic build`: the options, the shared
 * prologue (settings; each step opens the database as it needs it), the step. */
static int mosaic_cmd(int argc, char **argv, const ctl_env *env, int build)
{
	ctl_state st;
	opts o;
	int rc;

	if (parse_opts(argc, argv, build, &o) < 0)
		return ctl_usage(env);
	if ((rc = ctl_begin(env, &st)) != CTL_OK)
		return rc;
	rc = build ? mosaic_build_cmd(st.cfg, st.s, &o) : mosaic_plan_cmd(st.s, &o);
	return ctl_end(&st, rc);
}

int ctl_mosaic_plan(int argc, char **argv, const ctl_env *env)
{
	return mosaic_cmd(argc, argv, env, 0);
}

int ctl_mosaic_build(int argc, char **argv, const ctl_env *env)
{
	return mosaic_cmd(argc, argv, env, 1);
}
