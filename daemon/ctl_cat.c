/*
 * daemon/ctl_cat.c — contimgctl catalog | transits | caltables.
 *
 *   catalog import --csv FILE | --vla FILE | --nvss FILE
 *   catalog list [--near RA DEC --radius DEG] [--min-flux MJY] [--calibrators]
 *                [--limit N] [--json]
 *   transits CAL [--days N] [--from ISO] [--json]
 *   caltables [--json]
 *
 * The catalog lives at [catalog] path (default state_dir/catalog.sqlite); the
 * registry is the state database's caltables table.  JSON contracts are in
 * docs/cli.md; exit codes in daemon/ctl.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "calib/calsel.h"
#include "core/astro.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/pipeline.h"
#include "daemon/views.h"
#include "state/calreg.h"
#include "state/catalog.h"
#include "state/db.h"

#define D2R (M_PI / 180.0)

/* DSA-110 at the Owens Valley Radio Observatory (the reference data's site). */
#define SITE_LAT_DEG 37.2339
#define SITE_LON_DEG (-118.2825)
#define SITE_ALT_M 1222.0

/* What every command of this file opens: the shared prologue's state
 * (configuration and settings; the database for none) and the catalog's path. */
typedef struct cat_env {
	ctl_state st;
	char catalog_path[4300];
} cat_env;

/* The shared prologue, then the catalog's path ([catalog] path, default
 * state_dir/catalog.sqlite).  On failure nothing is left to release. */
static int env_load(const ctl_env *env, cat_env *ce)
{
	const char *p;
	int rc = ctl_begin(env, &ce->st);

	ce->catalog_path[0] = 0;
	if (rc != CTL_OK)
		return rc;
	p = cfg_get_str(ce->st.cfg, "catalog", "path", "");
	if (*p)
		snprintf(ce->catalog_path, sizeof ce->catalog_path, "%s", p);
	else if (catalog_default_path(ce->st.s->state_dir, ce->catalog_path,
				      sizeof ce->catalog_path) < 0) {
		fprintf(stderr, "contimgctl: [paths] state_dir too long\n");
		return ctl_end(&ce->st, CTL_USAGE);
	}
	return CTL_OK;
}

static int exit_code(int r)
{
	switch (r) {
	case -ENOENT: return CTL_NOT_FOUND;
	case -EINVAL: case -ERANGE: return CTL_USAGE;
	default: return CTL_UNREACHABLE;
	}
}

static json_object *jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

static void jprint(json_object *o)
{
	/* 12 significant digits: sub-µas in degrees, ~1 ms in MJD. */
	json_c_set_serialization_double_format("%.12g", JSON_C_OPTION_THREAD);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static int parse_num(const char *s, double *ret)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

static void iso(double jd, char *buf, size_t len)
{
	if (astro_jd_to_iso(jd, 1, buf, len) < 0)
		snprintf(buf, len, "JD %.6f", jd);
}

/* ------------------------------------------------------------------ */
/* catalog import                                                       */

static int cat_import(int argc, char **argv, const ctl_env *env, cat_env *ce)
{
	const char *kind = NULL, *file = NULL;
	char err[ERR_LEN];
	catalog *c = NULL;
	size_t n = 0, ns = 0, nc = 0;
	int r, json = 0;

	for (int i = 2; i < argc; i++) {
		if ((!strcmp(argv[i], "--csv") || !strcmp(argv[i], "--vla") ||
		     !strcmp(argv[i], "--nvss")) && i + 1 < argc && !kind) {
			kind = argv[i] + 2;
			file = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else {
			return ctl_usage(env);
		}
	}
	if (!kind)
		return ctl_usage(env);
	/* The state directory is the daemon's; create the last level so a fresh
	 * installation can load its catalog before the first start. */
	mkdir(ce->st.s->state_dir, 0755);
	if ((r = catalog_open(ce->catalog_path, 0, &c, err, sizeof err)) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return CTL_UNREACHABLE;
	}
	if (!strcmp(kind, "csv"))
		r = catalog_import_csv(c, file, &n, err, sizeof err);
	else if (!strcmp(kind, "vla"))
		r = catalog_import_vla(c, file, &n, err, sizeof err);
	else
		r = catalog_import_nvss(c, file, &n, err, sizeof err);
	if (r == 0)
		r = catalog_counts(c, &ns, &nc, err, sizeof err);
	catalog_close(c);
	if (r < 0) {
		fprintf(stderr, "contimgctl: catalog import: %s\n", err);
		return exit_code(r);
	}
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "file", json_object_new_string(file));
		json_object_object_add(o, "format", json_object_new_string(kind));
		json_object_object_add(o, "imported", json_object_new_int64((int64_t)n));
		json_object_object_add(o, "catalog", json_object_new_string(ce->catalog_path));
		json_object_object_add(o, "sources", json_object_new_int64((int64_t)ns));
		json_object_object_add(o, "calibrators", json_object_new_int64((int64_t)nc));
		jprint(o);
	} else {
		printf("imported %zu %s from %s into %s (now %zu sources, %zu calibrators)\n", n,
		       strcmp(kind, "vla") ? "sources" : "calibrators", file, ce->catalog_path, ns,
		       nc);
	}
	return CTL_OK;
}

/* ------------------------------------------------------------------ */
/* catalog list                                                         */

static const char *model_name(int kind)
{
	switch (kind) {
	case CATALOG_MODEL_PB17: return "pb17";
	case CATALOG_MODEL_SOURCE: return "source";
	case CATALOG_MODEL_LIST: return "list";
	default: return "none";
	}
}

static json_object *source_json(const catalog_source *s, int near)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "ra_deg", json_object_new_double(s->ra_deg));
	json_object_object_add(o, "dec_deg", json_object_new_double(s->dec_deg));
	json_object_object_add(o, "flux_mjy", json_object_new_double(s->flux_mjy));
	json_object_object_add(o, "spectral_index", jnum(s->spectral_index));
	json_object_object_add(o, "e_flux_mjy", jnum(s->e_flux_mjy));
	json_object_object_add(o, "e_ra_arcsec", jnum(s->e_ra_arcsec));
	json_object_object_add(o, "e_dec_arcsec", jnum(s->e_dec_arcsec));
	json_object_object_add(o, "major_arcsec", jnum(s->major_arcsec));
	json_object_object_add(o, "minor_arcsec", jnum(s->minor_arcsec));
	json_object_object_add(o, "resolved", json_object_new_boolean(s->resolved));
	json_object_object_add(o, "confused", json_object_new_boolean(s->confused));
	json_object_object_add(o, "snr", jnum(s->snr));
	json_object_object_add(o, "origin", json_object_new_string(s->origin));
	if (near)
		json_object_object_add(o, "sep_deg", json_object_new_double(s->sep_deg));
	return o;
}

static json_object *cal_json(catalog *c, const catalog_cal *cal, int near)
{
	json_object *o = json_object_new_object(), *bands = json_object_new_array();
	catalog_calmodel m;
	char pc[2] = { cal->pos_code, 0 };
	int have = catalog_cal_model(c, cal, &m, NULL, 0) == 0;

	json_object_object_add(o, "name", json_object_new_string(cal->name));
	json_object_object_add(o, "alt_name", json_object_new_string(cal->alt_name));
	json_object_object_add(o, "ra_deg", json_object_new_double(cal->ra_deg));
	json_object_object_add(o, "dec_deg", json_object_new_double(cal->dec_deg));
	json_object_object_add(o, "pos_code", json_object_new_string(pc));
	json_object_object_add(o, "flux_1400mhz_jy",
			       have ? jnum(catalog_model_flux_jy(&m, CATALOG_L_BAND_HZ)) : NULL);
	json_object_object_add(o, "spectral_index", have ? jnum(m.alpha) : NULL);
	json_object_object_add(o, "model", json_object_new_string(model_name(have ? m.kind : 0)));
	for (int i = 0; i < cal->nbands; i++) {
		const catalog_band *b = &cal->bands[i];
		json_object *jb = json_object_new_object();
		char code[2] = { b->code, 0 };
		json_object_object_add(jb, "band", json_object_new_string(b->band));
		json_object_object_add(jb, "code", json_object_new_string(code));
		json_object_object_add(jb, "quality", json_object_new_string(b->quality));
		json_object_object_add(jb, "flux_jy", jnum(b->flux_jy));
		json_object_object_add(jb, "uvmin_kl", jnum(b->uvmin_kl));
		json_object_object_add(jb, "uvmax_kl", jnum(b->uvmax_kl));
		json_object_array_add(bands, jb);
	}
	json_object_object_add(o, "bands", bands);
	if (near)
		json_object_object_add(o, "sep_deg", json_object_new_double(cal->sep_deg));
	return o;
}

static int cat_list(int argc, char **argv, const ctl_env *env, cat_env *ce)
{
	double ra = 0, dec = 0, radius = 180, min_flux = -1;
	int near = 0, have_radius = 0, cals = 0, json = 0, r;
	long limit = -1;
	char err[ERR_LEN];
	catalog *c = NULL;
	size_t n = 0;

	for (int i = 2; i < argc; i++) {
		double v;
		if (!strcmp(argv[i], "--near") && i + 2 < argc &&
		    catalog_parse_angle(argv[i + 1], 1, &ra) == 0 &&
		    catalog_parse_angle(argv[i + 2], 0, &dec) == 0) {
			near = 1;
			i += 2;
		} else if (!strcmp(argv[i], "--radius") && i + 1 < argc &&
			   parse_num(argv[i + 1], &radius) == 0 && radius >= 0) {
			have_radius = 1;
			i++;
		} else if (!strcmp(argv[i], "--min-flux") && i + 1 < argc &&
			   parse_num(argv[i + 1], &min_flux) == 0) {
			i++;
		} else if (!strcmp(argv[i], "--limit") && i + 1 < argc &&
			   parse_num(argv[i + 1], &v) == 0 && v >= 0) {
			limit = (long)v;
			i++;
		} else if (!strcmp(argv[i], "--calibrators")) {
			cals = 1;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else {
			return ctl_usage(env);
		}
	}
	if (near && !have_radius) {
		fprintf(stderr, "contimgctl: catalog list --near needs --radius DEG\n");
		return CTL_USAGE;
	}
	if (near && (dec < -90 || dec > 90 || ra < 0 || ra >= 360)) {
		fprintf(stderr, "contimgctl: position (%g, %g) out of range\n", ra, dec);
		return CTL_USAGE;
	}
	if ((r = catalog_open(ce->catalog_path, 1, &c, err, sizeof err)) < 0) {
		fprintf(stderr, "contimgctl: %s (import one with `contimgctl catalog import`)\n",
			err);
		return CTL_UNREACHABLE;
	}
	if (cals) {
		catalog_cal *v = NULL;
		r = catalog_cals_near(c, ra, dec, near ? radius : 180, &v, &n, err, sizeof err);
		if (r == 0) {
			json_object *arr = json ? json_object_new_array() : NULL;
			if (!json)
				printf("%-12s %-8s %12s %12s %2s %9s %-6s%s\n", "name", "alt", "ra_deg",
				       "dec_deg", "pc", "S1.4_Jy", "model", near ? "  sep_deg" : "");
			for (size_t i = 0; i < n && (limit < 0 || (long)i < limit); i++) {
				catalog_calmodel m;
				int have = catalog_cal_model(c, &v[i], &m, NULL, 0) == 0;
				if (json) {
					json_object_array_add(arr, cal_json(c, &v[i], near));
					continue;
				}
				printf("%-12s %-8s %12.6f %12.6f %2c %9.3f %-6s", v[i].name,
				       v[i].alt_name, v[i].ra_deg, v[i].dec_deg, v[i].pos_code,
				       have ? catalog_model_flux_jy(&m, CATALOG_L_BAND_HZ) : NAN,
				       model_name(have ? m.kind : 0));
				if (near)
					printf("  %7.4f", v[i].sep_deg);
				putchar('\n');
			}
			if (json)
				jprint(arr);
		}
		free(v);
	} else {
		catalog_source *v = NULL;
		r = catalog_sources_near(c, ra, dec, near ? radius : 180, min_flux, &v, &n, err,
					 sizeof err);
		if (r == 0) {
			json_object *arr = json ? json_object_new_array() : NULL;
			if (!json)
				printf("%-24s %12s %12s %11s %6s %-6s%s\n", "name", "ra_deg", "dec_deg",
				       "flux_mJy", "alpha", "origin", near ? "  sep_deg" : "");
			for (size_t i = 0; i < n && (limit < 0 || (long)i < limit); i++) {
				if (json) {
					json_object_array_add(arr, source_json(&v[i], near));
					continue;
				}
				printf("%-24s %12.6f %12.6f %11.3f %6.2f %-6s", v[i].name, v[i].ra_deg,
				       v[i].dec_deg, v[i].flux_mjy, v[i].spectral_index, v[i].origin);
				if (near)
					printf("  %7.4f", v[i].sep_deg);
				putchar('\n');
			}
			if (json)
				jprint(arr);
		}
		free(v);
	}
	catalog_close(c);
	if (r < 0) {
		fprintf(stderr, "contimgctl: catalog list: %s\n", err);
		return exit_code(r);
	}
	return CTL_OK;
}

/* The table's rows `catalog import` and `catalog list`: the prologue, the
 * step, the epilogue. */
static int with_catalog(int argc, char **argv, const ctl_env *env,
			int (*step)(int, char **, const ctl_env *, cat_env *))
{
	cat_env ce;
	int rc = env_load(env, &ce);

	if (rc != CTL_OK)
		return rc;
	return ctl_end(&ce.st, step(argc, argv, env, &ce));
}

int ctl_catalog_import(int argc, char **argv, const ctl_env *env)
{
	return with_catalog(argc, argv, env, cat_import);
}

int ctl_catalog_list(int argc, char **argv, const ctl_env *env)
{
	return with_catalog(argc, argv, env, cat_list);
}

/* ------------------------------------------------------------------ */
/* transits                                                             */

int ctl_transits(int argc, char **argv, const ctl_env *env)
{
	const char *name = NULL, *from_iso = NULL;
	double days = 1, from_jd, ra_deg, dec_deg, prev;
	double jd[512];
	char err[ERR_LEN], buf[64];
	int json = 0, r, rc = CTL_OK;
	size_t n = 0;
	cat_env ce;
	catalog *c = NULL;
	catalog_cal cal;
	catalog_source src;
	calsel_site site;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--days") && i + 1 < argc && parse_num(argv[i + 1], &days) == 0 &&
		    days >= 0 && days <= 366) {
			i++;
		} else if (!strcmp(argv[i], "--from") && i + 1 < argc) {
			from_iso = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			return ctl_usage(env);
		}
	}
	if (!name)
		return ctl_usage(env);
	if (from_iso) {
		if (astro_iso_to_jd(from_iso, &from_jd) < 0) {
			fprintf(stderr, "contimgctl: --from '%s': expected YYYY-MM-DDTHH:MM:SS\n",
				from_iso);
			return CTL_USAGE;
		}
	} else {
		from_jd = 2440587.5 + clk_wall_s() / 86400.0;
	}
	if ((rc = env_load(env, &ce)) != CTL_OK)
		return rc;
	site.lat_rad = cfg_get_double(ce.st.cfg, "site", "lat_deg", SITE_LAT_DEG) * D2R;
	site.lon_rad = cfg_get_double(ce.st.cfg, "site", "lon_deg", SITE_LON_DEG) * D2R;
	site.alt_m = cfg_get_double(ce.st.cfg, "site", "alt_m", SITE_ALT_M);
	if ((r = catalog_open(ce.catalog_path, 1, &c, err, sizeof err)) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	if (catalog_cal_get(c, name, &cal, err, sizeof err) == 0) {
		ra_deg = cal.ra_deg;
		dec_deg = cal.dec_deg;
		name = cal.name;
	} else if (catalog_source_get(c, name, &src, NULL, 0) == 0) {
		ra_deg = src.ra_deg;
		dec_deg = src.dec_deg;
	} else {
		fprintf(stderr, "contimgctl: '%s' is neither a calibrator nor a source in %s\n", name,
			ce.catalog_path);
		rc = CTL_NOT_FOUND;
		goto out;
	}
	/* The transit before --from, then every one in [from, from + days). */
	prev = calsel_transit_near(ra_deg * D2R, dec_deg * D2R, &site, from_jd);
	if (isfinite(prev) && prev >= from_jd)
		prev = calsel_transit_near(ra_deg * D2R, dec_deg * D2R, &site,
					   prev - CALSEL_SIDEREAL_DAY_S / 86400.0);
	if (!isfinite(prev) || calsel_transits(ra_deg * D2R, dec_deg * D2R, &site, from_jd, days,
					       jd, sizeof jd / sizeof jd[0], &n) < 0) {
		fprintf(stderr, "contimgctl: transits: time out of range\n");
		rc = CTL_USAGE;
		goto out;
	}
	if (n > sizeof jd / sizeof jd[0])
		n = sizeof jd / sizeof jd[0];
	if (json) {
		json_object *o = json_object_new_object(), *arr = json_object_new_array();
		json_object *js = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "ra_deg", json_object_new_double(ra_deg));
		json_object_object_add(o, "dec_deg", json_object_new_double(dec_deg));
		json_object_object_add(js, "lat_deg", json_object_new_double(site.lat_rad / D2R));
		json_object_object_add(js, "lon_deg", json_object_new_double(site.lon_rad / D2R));
		json_object_object_add(js, "alt_m", json_object_new_double(site.alt_m));
		json_object_object_add(o, "site", js);
		iso(from_jd, buf, sizeof buf);
		json_object_object_add(o, "from", json_object_new_string(buf));
		for (size_t i = 0; i <= n; i++) {
			double t = i == 0 ? prev : jd[i - 1], dec_app = NAN;
			json_object *e = json_object_new_object();
			calsel_hour_angle(ra_deg * D2R, dec_deg * D2R, &site, t, &dec_app);
			iso(t, buf, sizeof buf);
			json_object_object_add(e, "utc", json_object_new_string(buf));
			json_object_object_add(e, "mjd", json_object_new_double(astro_jd_to_mjd(t)));
			json_object_object_add(e, "dec_app_deg", jnum(dec_app / D2R));
			json_object_object_add(e, "previous", json_object_new_boolean(i == 0));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "transits", arr);
		jprint(o);
	} else {
		printf("%s (RA %.6f, Dec %.6f J2000) transits at lat %.4f, lon %.4f:\n", name, ra_deg,
		       dec_deg, site.lat_rad / D2R, site.lon_rad / D2R);
		iso(prev, buf, sizeof buf);
		printf("  %s UTC  MJD %.6f  (previous)\n", buf, astro_jd_to_mjd(prev));
		for (size_t i = 0; i < n; i++) {
			iso(jd[i], buf, sizeof buf);
			printf("  %s UTC  MJD %.6f\n", buf, astro_jd_to_mjd(jd[i]));
		}
	}
out:
	catalog_close(c);
	return ctl_end(&ce.st, rc);
}

/* ------------------------------------------------------------------ */
/* caltables                                                            */

int ctl_caltables(int argc, char **argv, const ctl_env *env)
{
	int json = 0, rc = CTL_OK, r;
	char err[ERR_LEN];
	calreg_entry *rows = NULL;
	size_t n = 0;
	cat_env ce;
	struct stat st;

	if (argc >= 2 && !strcmp(argv[1], "export")) /* daemon/ctl_calexport.c */
		return ctl_caltables_export(argc, argv, env);
	if ((rc = ctl_only_json(argc, argv, 1, env, &json)) != CTL_OK)
		return rc;
	if ((rc = env_load(env, &ce)) != CTL_OK)
		return rc;
	if (stat(ce.st.s->db_path, &st) < 0) {
		/* As `status`: a missing state database is a wrong config or a daemon
		 * that never ran, not an empty registry. */
		fprintf(stderr, "contimgctl: state database unreachable: %s: no state database\n",
			ce.st.s->db_path);
		rc = CTL_UNREACHABLE;
		goto out;
	} else {
		if ((r = db_open_readonly(ce.st.s->db_path, &ce.st.db, err, sizeof err)) < 0) {
			fprintf(stderr, "contimgctl: %s\n", err);
			rc = CTL_UNREACHABLE;
			goto out;
		}
		r = calreg_list(ce.st.db, &rows, &n, err, sizeof err);
		/* A database from before the registry's migration has no rows either. */
		if (r < 0 && strstr(err, "no such table"))
			r = 0, n = 0;
		if (r < 0) {
			fprintf(stderr, "contimgctl: %s\n", err);
			rc = CTL_UNREACHABLE;
			goto out;
		}
	}
	if (json) {
		jprint(view_caltables_json(rows, n));
	} else if (n == 0) {
		printf("no calibration tables registered\n");
	} else {
		printf("%5s %-4s %-8s %-10s %-20s %6s %-21s %-21s %7s %6s %s\n", "id", "type",
		       "status", "calibrator", "source_group", "refant", "valid_from", "valid_to",
		       "med_snr", "flag%", "path");
		for (size_t i = 0; i < n; i++) {
			const calreg_entry *e = &rows[i];
			char a[64], b[64];
			iso(astro_mjd_to_jd(e->valid_start_mjd), a, sizeof a);
			iso(astro_mjd_to_jd(e->valid_end_mjd), b, sizeof b);
			printf("%5lld %-4c %-8s %-10s %-20s %6d %-21s %-21s %7.1f %6.2f %s\n",
			       (long long)e->id, e->type, calreg_status_name(e->status), e->calibrator,
			       e->source_group, e->refant, a, b, e->median_snr,
			       100 * e->flagged_fraction, e->path);
		}
	}
out:
	free(rows);
	return ctl_end(&ce.st, rc);
}
