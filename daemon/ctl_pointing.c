/*
 * daemon/ctl_pointing.c — contimgctl pointing add|list|remove (three rows of
 * the command table in contimgctl.c): operators' overrides of the files'
 * pointing declination (state/pointingdb.h; docs/operations.md, *Pointing*;
 * docs/cli.md).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/astro.h"
#include "core/config.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "state/db.h"
#include "state/pointingdb.h"

/* UTC MJD as "YYYY-MM-DDTHH:MM:SS" ("open" for an open end). */
static const char *iso_of(double mjd, char *buf, size_t len)
{
	if (!isfinite(mjd) || astro_jd_to_iso(mjd + ASTRO_MJD0, 0, buf, len) < 0)
		snprintf(buf, len, "open");
	return buf;
}

static json_object *override_json(const pointingdb_override *o)
{
	json_object *j = json_object_new_object();
	char a[40], b[40];
	json_object_object_add(j, "id", json_object_new_int64(o->id));
	json_object_object_add(j, "start", json_object_new_string(iso_of(o->start_mjd, a, sizeof a)));
	json_object_object_add(j, "end", isfinite(o->end_mjd)
						 ? json_object_new_string(iso_of(o->end_mjd, b, sizeof b))
						 : NULL);
	json_object_object_add(j, "start_mjd", json_object_new_double(o->start_mjd));
	json_object_object_add(j, "end_mjd",
			       isfinite(o->end_mjd) ? json_object_new_double(o->end_mjd) : NULL);
	json_object_object_add(j, "dec_deg", json_object_new_double(o->dec_deg));
	json_object_object_add(j, "note", json_object_new_string(o->note));
	return j;
}

static int parse_mjd(const char *opt, const char *iso, double *ret)
{
	double jd;
	if (astro_iso_to_jd(iso, &jd) < 0) {
		fprintf(stderr, "contimgctl: %s '%s': expected YYYY-MM-DDTHH:MM:SS (UTC)\n", opt, iso);
		return CTL_USAGE;
	}
	*ret = astro_jd_to_mjd(jd);
	return CTL_OK;
}

int ctl_pointing_add(int argc, char **argv, const ctl_env *env)
{
	const char *start = NULL, *end = NULL, *dec = NULL, *note = "";
	double start_mjd, end_mjd = INFINITY, dec_deg;
	char err[ERR_LEN], a[40], b[40], *e;
	char (*names)[32] = NULL;
	size_t nredo = 0;
	int64_t id = 0;
	ctl_state st;
	int json = 0, rc, r;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--start") && i + 1 < argc)
			start = argv[++i];
		else if (!strcmp(argv[i], "--end") && i + 1 < argc)
			end = argv[++i];
		else if (!strcmp(argv[i], "--dec") && i + 1 < argc)
			dec = argv[++i];
		else if (!strcmp(argv[i], "--note") && i + 1 < argc)
			note = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			return ctl_usage(env);
	}
	if (!start || !dec)
		return ctl_usage(env);
	if ((rc = parse_mjd("--start", start, &start_mjd)) ||
	    (end && (rc = parse_mjd("--end", end, &end_mjd))))
		return rc;
	dec_deg = strtod(dec, &e);
	if (e == dec || *e || !isfinite(dec_deg) || fabs(dec_deg) > 90) {
		fprintf(stderr, "contimgctl: --dec '%s': expected degrees in -90..90\n", dec);
		return CTL_USAGE;
	}
	if ((rc = ctl_begin(env, &st)))
		return rc;
	r = pointingdb_add(st.db, start_mjd, end_mjd, dec_deg, note, (double)time(NULL), &id, err,
			   sizeof err);
	if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = r == -EINVAL || r == -EEXIST ? CTL_USAGE : CTL_UNREACHABLE;
		goto out;
	}
	/* What was already processed with another pointing in this range. */
	r = pointingdb_groups_to_redo(st.db, start_mjd, end_mjd, dec_deg, &names, &nredo, err,
				      sizeof err);
	if (r < 0) {
		fprintf(stderr, "contimgctl: override %lld added, but listing the groups to redo "
				"failed: %s\n", (long long)id, err);
		nredo = 0;
	}
	if (json) {
		pointingdb_override o = { .id = id, .start_mjd = start_mjd, .end_mjd = end_mjd,
					  .dec_deg = dec_deg };
		snprintf(o.note, sizeof o.note, "%s", note);
		json_object *j = override_json(&o), *g = json_object_new_array();
		for (size_t i = 0; i < nredo; i++)
			json_object_array_add(g, json_object_new_string(names[i]));
		json_object_object_add(j, "groups_to_requeue", g);
		ctl_print_json(j);
		json_object_put(j);
	} else {
		printf("override %lld: %s to %s, dec %+.4f deg%s%s\n", (long long)id,
		       iso_of(start_mjd, a, sizeof a), iso_of(end_mjd, b, sizeof b), dec_deg,
		       note[0] ? ", " : "", note);
		if (nredo) {
			printf("%zu group(s) in this range were processed with another pointing; "
			       "requeue them with:\n  contimgctl requeue", nredo);
			for (size_t i = 0; i < nredo; i++)
				printf(" %s", names[i]);
			printf("\n");
		}
	}
	rc = CTL_OK;
out:
	free(names);
	return ctl_end(&st, rc);
}

int ctl_pointing_list(int argc, char **argv, const ctl_env *env)
{
	pointingdb_override *o = NULL;
	char err[ERR_LEN], a[40], b[40];
	size_t n = 0;
	ctl_state st;
	int json = 0, rc, r;

	if ((rc = ctl_only_json(argc, argv, 2, env, &json)) != CTL_OK)
		return rc;
	if ((rc = ctl_begin(env, &st)))
		return rc;
	r = pointingdb_list(st.db, &o, &n, err, sizeof err);
	/* A database from before the overrides' migration has none. */
	if (r < 0 && strstr(err, "no such table"))
		r = 0, n = 0;
	if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	if (json) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			json_object_array_add(arr, override_json(&o[i]));
		ctl_print_json(arr);
		json_object_put(arr);
	} else if (!n) {
		printf("no pointing overrides: every group uses its files' declination\n");
	} else {
		printf("%-5s %-19s  %-19s  %10s  %s\n", "id", "start (UTC)", "end (UTC)", "dec_deg",
		       "note");
		for (size_t i = 0; i < n; i++)
			printf("%-5lld %-19s  %-19s  %+10.4f  %s\n", (long long)o[i].id,
			       iso_of(o[i].start_mjd, a, sizeof a), iso_of(o[i].end_mjd, b, sizeof b),
			       o[i].dec_deg, o[i].note);
	}
	rc = CTL_OK;
out:
	free(o);
	return ctl_end(&st, rc);
}

int ctl_pointing_remove(int argc, char **argv, const ctl_env *env)
{
	char err[ERR_LEN], *e;
	ctl_state st;
	long long id;
	int rc, r;

	if (argc != 3)
		return ctl_usage(env);
	id = strtoll(argv[2], &e, 10);
	if (e == argv[2] || *e || id <= 0) {
		fprintf(stderr, "contimgctl: '%s' is not an override id\n", argv[2]);
		return CTL_USAGE;
	}
	if ((rc = ctl_begin(env, &st)))
		return rc;
	r = pointingdb_remove(st.db, id, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = r == -ENOENT ? CTL_NOT_FOUND : CTL_UNREACHABLE;
	} else {
		printf("override %lld removed (groups already processed keep their pointing; "
		       "requeue them to use the files' declination)\n", id);
		rc = CTL_OK;
	}
	return ctl_end(&st, rc);
}
