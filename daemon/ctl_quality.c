/*
 * daemon/ctl_quality.c — `contimgctl quality [GROUP] [--since WHEN]
 * [--failed] [--limit N] [--json]`: the epoch quality record of each image
 * (table epoch_quality, docs/photometry.md "Epoch quality"), so that an
 * operator who sees a failed epoch in a light curve can ask why.  Without
 * GROUP, the records newest first; with GROUP, its record beside the
 * thresholds of the configuration.  JSON keys in docs/cli.md (the builders
 * are daemon/views.c's); exit codes in daemon/ctl.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/astro.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/stage_photometry.h"
#include "daemon/view_alerts.h"
#include "daemon/views.h"
#include "state/photdb.h"
#include "state/queue.h"

/* MJD of the Unix epoch, 1970-01-01T00:00:00 UTC. */
#define MJD_UNIX_EPOCH 40587.0

/* One number of a text column: fmt ("%*.3f") with width w, "-" when unknown. */
static void cell(double v, const char *fmt, int w)
{
	if (isfinite(v))
		printf(fmt, w, v);
	else
		printf(" %*s", w, "-");
}

static void print_list(const photdb_quality_entry *e, size_t n)
{
	printf("%-19s %11s %9s %8s %6s %7s %8s %7s %6s %6s %6s %4s  %s\n", "GROUP", "MJD",
	       "NOISE_mJy", "EXP_mJy", "RAD_R", "NOISE_R", "DR", "CORR", "CORR_Z", "CLIP", "FLAG",
	       "NREF", "CHECKS");
	for (size_t i = 0; i < n; i++) {
		const photdb_quality *q = &e[i].q;
		char checks[128];
		view_quality_checks_text(q->flags, checks, sizeof checks);
		printf("%-19s", e[i].group[0] ? e[i].group : "-");
		cell(q->mjd, " %*.5f", 11);
		cell(q->noise_jy * 1e3, " %*.3f", 9);
		cell(q->expected_noise_jy * 1e3, " %*.3f", 8);
		cell(q->radiometer_ratio, " %*.2f", 6);
		cell(q->noise_ratio, " %*.2f", 7);
		cell(q->dynamic_range, " %*.0f", 8);
		cell(q->correction, " %*.4f", 7);
		cell(q->correction_z, " %*.2f", 6);
		cell(q->clipped_frac, " %*.3f", 6);
		cell(q->flagged_frac, " %*.3f", 6);
		printf(" %4d  %s\n", q->nref, checks);
	}
}

/* GROUP's record and, for each check, its value beside the limit in force
 * (th: view_quality_thresholds' array). */
static void print_group(const photdb_quality *q, const char *name, json_object *th,
			const phot_quality_settings *qs, const char *config_path)
{
	char checks[128];
	view_quality_checks_text(q->flags, checks, sizeof checks);
	printf("group         %s (id %lld)\n", name, (long long)q->group_id);
	printf("mjd          ");
	cell(q->mjd, " %*.5f", 0);
	printf("\nquality       %s%s\n", q->flags & PHOT_QUAL_BAD ? "FAILED: " : "", checks);
	if (q->flags & PHOT_QUAL_PROVISIONAL)
		printf("              (provisional: not final, kept out of the running "
		       "distributions)\n");
	printf("noise        ");
	cell(q->noise_jy * 1e3, " %*.4f", 0);
	printf(" mJy/beam, expected");
	cell(q->expected_noise_jy * 1e3, " %*.4f", 0);
	printf(" mJy/beam\ncorrection   ");
	cell(q->correction, " %*.4f", 0);
	printf(" (z");
	cell(q->correction_z, " %*.2f", 0);
	printf("), %d references\n", q->nref);
	/* An absent default file means every key at its default (ctl.h). */
	printf("\nthresholds: [photometry] quality_* of %s%s now (window %d good epochs);\n"
	       "the verdict is the one stored when the image was processed\n",
	       access(config_path, F_OK) == 0 ? "" : "the defaults, no file ", config_path,
	       qs->window);
	printf("  %-11s %12s %-7s %10s  %s\n", "CHECK", "VALUE", "", "LIMIT", "VERDICT");
	for (size_t k = 0; k < json_object_array_length(th); k++) {
		json_object *o = json_object_array_get_idx(th, k), *v;
		const char *check = "", *cmp = "";
		double value = NAN, limit = NAN;
		int enabled = 1, failed = 0, now = 0;
		if (json_object_object_get_ex(o, "check", &v))
			check = json_object_get_string(v);
		if (json_object_object_get_ex(o, "compare", &v))
			cmp = json_object_get_string(v);
		if (json_object_object_get_ex(o, "value", &v) && v)
			value = json_object_get_double(v);
		if (json_object_object_get_ex(o, "limit", &v) && v)
			limit = json_object_get_double(v);
		if (json_object_object_get_ex(o, "enabled", &v))
			enabled = json_object_get_boolean(v);
		if (json_object_object_get_ex(o, "failed", &v))
			failed = json_object_get_boolean(v);
		if (json_object_object_get_ex(o, "fails_now", &v))
			now = json_object_get_boolean(v);
		printf("  %-11s", check);
		cell(value, " %*.4g", 12);
		printf(" %-7s", cmp);
		if (enabled)
			cell(limit, " %*.4g", 10);
		else
			printf(" %10s", "off");
		printf("  %s%s\n", failed ? "FAIL" : isfinite(value) ? "pass" : "pass (no value)",
		       now == failed ? "" : now ? " (fails the limit now)"
						: " (passes the limit now)");
	}
}

/* `quality GROUP`: 1 when the group has no record. */
static int quality_group(const ctl_env *env, ctl_state *st, const char *name, int json)
{
	char err[ERR_LEN] = "";
	int64_t gid = 0;
	int f = queue_find(st->db, name, &gid, err, sizeof err);
	if (f < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return CTL_UNREACHABLE;
	}
	if (f == 0) {
		fprintf(stderr, "contimgctl: no group %s\n", name);
		return CTL_NOT_FOUND;
	}
	photdb_quality q;
	int r = photdb_quality_get(st->db, gid, &q, err, sizeof err);
	if (r == -ENOENT) {
		fprintf(stderr, "contimgctl: group %s has no quality record (its photometry "
			"stage has not run: see contimgctl show %s)\n", name, name);
		return CTL_NOT_FOUND;
	}
	if (r < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return CTL_UNREACHABLE;
	}
	/* The thresholds as the photometry stage reads them. */
	phot_settings ps;
	phot_settings_default(&ps);
	if (phot_settings_read(st->cfg, &ps, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s: %s\n", env->config_path, err);
		return CTL_USAGE;
	}
	json_object *th = view_quality_thresholds(&q, &ps.qual);
	if (json) {
		json_object *o = json_object_new_object(), *a = json_object_new_array();
		json_object_array_add(a, view_quality_record(&q, name));
		json_object_object_add(o, "records", a);
		json_object_object_add(o, "thresholds", th);
		json_object_object_add(o, "quality_window", json_object_new_int(ps.qual.window));
		ctl_print_json(o);
		json_object_put(o);
	} else {
		print_group(&q, name, th, &ps.qual, env->config_path);
		json_object_put(th);
	}
	return CTL_OK;
}

int ctl_quality(int argc, char **argv, const ctl_env *env)
{
	const char *name = NULL;
	double since_mjd = -INFINITY;
	int json = 0, failed = 0, limit = 50, listing_opt = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--failed")) {
			failed = listing_opt = 1;
		} else if (!strcmp(argv[i], "--since") && i + 1 < argc) {
			double since_unix;
			if (view_parse_since(argv[++i], clk_wall_s(), &since_unix) < 0) {
				fprintf(stderr, "contimgctl: --since wants a number of days or "
					"YYYY-MM-DD[THH:MM[:SS]][Z]\n");
				return CTL_USAGE;
			}
			since_mjd = MJD_UNIX_EPOCH + since_unix / ASTRO_DAY_S;
			listing_opt = 1;
		} else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (end == argv[i] || *end || v < 0 || v > 1000000) {
				fprintf(stderr, "contimgctl: bad --limit\n");
				return CTL_USAGE;
			}
			limit = (int)v;
			listing_opt = 1;
		} else if (!name && argv[i][0] != '-') {
			name = argv[i];
		} else {
			return ctl_usage(env);
		}
	}
	if (name && listing_opt) {
		fprintf(stderr, "contimgctl: --since, --failed and --limit select records of the "
			"list; with GROUP only --json\n");
		return ctl_usage(env);
	}
	if (name && queue_parse_group_name(name, NULL) < 0) {
		fprintf(stderr, "contimgctl: '%s' is not a group id (YYYY-MM-DDTHH:MM:SS)\n", name);
		return CTL_USAGE;
	}

	ctl_state st;
	int rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	if (name)
		return ctl_end(&st, quality_group(env, &st, name, json));

	char err[ERR_LEN] = "";
	photdb_quality_entry *e = NULL;
	size_t n = 0;
	if (photdb_quality_list(st.db, since_mjd, failed ? PHOT_QUAL_BAD : 0, limit, &e, &n, err,
				sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return ctl_end(&st, CTL_UNREACHABLE);
	}
	if (json) {
		json_object *o = view_quality_json(e, n);
		ctl_print_json(o);
		json_object_put(o);
	} else {
		print_list(e, n);
	}
	free(e);
	return ctl_end(&st, CTL_OK);
}
