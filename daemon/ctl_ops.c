/*
 * daemon/ctl_ops.c — contimgctl's operational commands: status, groups, show,
 * requeue, retry-failed, ingest, process.  JSON contracts and exit codes are
 * documented in docs/cli.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "daemon/ctl.h"
#include "daemon/pipeline.h"
#include "daemon/settings.h"
#include "daemon/stage_calibrate.h"
#include "daemon/stage_photometry.h"
#include "daemon/util.h"
#include "daemon/views.h"
#include "imaging/image.h"
#include "plot/axes.h"
#include "state/db.h"
#include "state/heartbeat.h"
#include "state/housedb.h"
#include "state/pointingdb.h"
#include "state/queue.h"
#include "state/report.h"

/* The configuration after per-run overrides were applied to c: every
 * section checked, as contimgd does at start-up.  CTL_USAGE with each
 * problem on its own "contimgctl: " line. */
static int build_config(const cfg *c, contimg_config **ret)
{
	char err[4 * ERR_LEN];
	int r = contimg_config_new(c, ret, err, sizeof err);

	if (r == -ENOMEM)
		return CTL_FAILED;
	if (r < 0) {
		for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "contimgctl: %s\n", line);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* A list of subband numbers as a JSON array of ints. */
static json_object *int_array(const int *v, int n)
{
	json_object *a = json_object_new_array();
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int(v[i]));
	return a;
}

/* The subbands 0..n_expected-1 of group gid without a usable file, as a JSON
 * array of ints (all of them when the database cannot say). */
static json_object *missing_subbands(sqlite3 *db, int64_t gid, int n_expected)
{
	int sbs[REPORT_MAX_SUBBANDS], n = 0, ngood;

	if (report_subbands(db, gid, n_expected, &ngood, sbs, &n, NULL, 0) < 0)
		for (n = 0; n < n_expected && n < REPORT_MAX_SUBBANDS; n++)
			sbs[n] = n;
	return int_array(sbs, n);
}

static const char *jget_str(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

static int jget_int(json_object *o, const char *k)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, k, &v);
	return json_object_get_int(v);
}

static int jget_bool(json_object *o, const char *k)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, k, &v);
	return json_object_get_boolean(v);
}

static double jget_double(json_object *o, const char *k)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, k, &v);
	return json_object_get_double(v);
}

/* o[k] as a string, dflt when absent or null. */
static const char *jget_str_or(json_object *o, const char *k, const char *dflt)
{
	const char *v = jget_str(o, k);
	return v ? v : dflt;
}

static void missing_text(json_object *miss, char *buf, size_t len)
{
	size_t k = 0;
	buf[0] = 0;
	for (size_t i = 0; i < json_object_array_length(miss) && k + 8 < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "%s%d", i ? "," : "",
				      json_object_get_int(json_object_array_get_idx(miss, i)));
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* ---- status ---- */

int ctl_status(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	json_object *o = NULL, *running, *dm, *counts;
	int json = 0, rc;
	char err[ERR_LEN] = "";

	if ((rc = ctl_only_json(argc, argv, 1, env, &json)) != CTL_OK)
		return rc;
	rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	rc = CTL_UNREACHABLE;
	house_settings hs;
	int hs_ok = house_settings_read(st.cfg, st.s->ingest_dir, &hs, NULL, 0) == 0;
	if (view_status(st.db, st.s, hs_ok ? &hs : NULL, clk_wall_s(), &o, err, sizeof err) < 0) {
		if (err[0])
			fprintf(stderr, "contimgctl: %s\n", err);
		goto out;
	}
	if (json) {
		ctl_print_json(o);
	} else {
		int up;
		json_object_object_get_ex(o, "daemon", &dm);
		json_object_object_get_ex(o, "counts", &counts);
		json_object_object_get_ex(o, "running", &running);
		up = jget_bool(dm, "running");
		printf("daemon:      %s", up ? "running" : "not running");
		if (up)
			printf(" (pid %d)", jget_int(dm, "pid"));
		printf("\n");
		{
			json_object *hk = json_object_object_get(o, "housekeeping");
			if (jget_bool(hk, "paused"))
				printf("paused:      intake and claims held by the free-space guard: %s\n",
				       jget_str(hk, "reason"));
			json_object *ps = json_object_object_get(hk, "paths");
			for (size_t i = 0; i < json_object_array_length(ps); i++) {
				json_object *p = json_object_array_get_idx(ps, i);
				if (!jget_str(p, "path") || !json_object_object_get(p, "free_gb"))
					continue;
				printf("disk:        %-13s %.1f GB free", jget_str(p, "name"),
				       jget_double(p, "free_gb"));
				if (jget_double(p, "min_free_gb") > 0)
					printf(" (pause below %g GB)%s", jget_double(p, "min_free_gb"),
					       jget_bool(p, "below") ? " BELOW" : "");
				printf("\n");
			}
		}
		printf("state db:    %s\n", st.s->db_path);
		printf("groups:      %lld collecting, %lld pending, %lld in progress, %lld completed,"
		       " %lld failed\n", (long long)jget_int(counts, "collecting"),
		       (long long)jget_int(counts, "pending"), (long long)jget_int(counts, "in_progress"),
		       (long long)jget_int(counts, "completed"), (long long)jget_int(counts, "failed"));
		for (size_t i = 0; i < json_object_array_length(running); i++) {
			json_object *g = json_object_array_get_idx(running, i);
			printf("running:     %s  stage %s  %.0f s\n", jget_str(g, "group_id"),
			       jget_str_or(g, "stage", "-"), jget_double(g, "elapsed_s"));
		}
		json_object *lc, *le;
		json_object_object_get_ex(o, "last_completed", &lc);
		json_object_object_get_ex(o, "last_error", &le);
		printf("last done:   %s\n", lc ? jget_str(lc, "group_id") : "-");
		if (le)
			printf("last error:  %s: %s\n", jget_str(le, "group_id"), jget_str(le, "message"));
		printf("per hour:    %lld completed in the last hour\n",
		       (long long)jget_int(o, "groups_per_hour"));
	}
	rc = CTL_OK;
out:
	json_object_put(o);
	return ctl_end(&st, rc);
}

/* ---- groups ---- */

int ctl_groups(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	json_object *arr = NULL;
	const char *state = NULL;
	int64_t since = 0;
	int json = 0, limit = 50, rc;
	char err[ERR_LEN];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
			state = argv[++i];
			int okst = !strcmp(state, "stale"); /* groups.stale: docs/operations.md */
			for (int k = 0; k < 5; k++)
				okst |= !strcmp(state, queue_states[k]);
			if (!okst) {
				fprintf(stderr, "contimgctl: unknown state '%s'\n", state);
				return CTL_USAGE;
			}
		} else if (!strcmp(argv[i], "--since") && i + 1 < argc) {
			char buf[32];
			const char *v = argv[++i];
			/* A date alone means its midnight. */
			snprintf(buf, sizeof buf, strlen(v) == 10 ? "%sT00:00:00" : "%s", v);
			if (queue_parse_group_name(buf, &since) < 0) {
				fprintf(stderr, "contimgctl: --since wants YYYY-MM-DD[THH:MM:SS]\n");
				return CTL_USAGE;
			}
		} else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 0 || v > 1000000) {
				fprintf(stderr, "contimgctl: bad --limit\n");
				return CTL_USAGE;
			}
			limit = (int)v;
		} else {
			return ctl_usage(env);
		}
	}
	rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	if (view_groups(st.db, state, since, limit, &arr, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	if (json) {
		ctl_print_json(arr);
	} else {
		printf("%-20s %-11s %4s %-16s %3s  %s\n", "GROUP", "STATE", "SUBS", "MISSING", "TRY",
		       "ERROR");
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *g = json_object_array_get_idx(arr, i), *v;
			char miss[128];
			json_object_object_get_ex(g, "missing", &v);
			missing_text(v, miss, sizeof miss);
			char stv[24];
			/* A stale group shows "completed*": its products predate a
			 * changed input (docs/operations.md). */
			snprintf(stv, sizeof stv, "%s%s", jget_str(g, "state"),
				 jget_bool(g, "stale") ? "*" : "");
			printf("%-20s %-11s %4d %-16s %3d  %s\n", jget_str(g, "group_id"),
			       stv, jget_int(g, "n_subbands"), miss,
			       jget_int(g, "retries"), jget_str_or(g, "error", ""));
		}
	}
	rc = CTL_OK;
out:
	json_object_put(arr);
	return ctl_end(&st, rc);
}

/* ---- show ---- */

static int check_group_name(const char *name)
{
	if (queue_parse_group_name(name, NULL) < 0) {
		fprintf(stderr, "contimgctl: '%s' is not a group id (YYYY-MM-DDTHH:MM:SS)\n", name);
		return CTL_USAGE;
	}
	return CTL_OK;
}

int ctl_show(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	json_object *o = NULL;
	const char *name = NULL;
	int64_t gid = 0;
	int json = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!name && argv[i][0] != '-') {
			name = argv[i];
		} else {
			name = NULL; /* a second name or an unknown option */
			break;
		}
	}
	if (!name)
		return ctl_usage(env);
	if ((rc = check_group_name(name)))
		return rc;
	rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	int f = queue_find(st.db, name, &gid, NULL, 0);
	if (f <= 0) {
		fprintf(stderr, "contimgctl: no group %s\n", name);
		rc = f < 0 ? CTL_UNREACHABLE : CTL_NOT_FOUND;
		goto out;
	}
	char err[ERR_LEN] = "";
	if (view_group(st.db, gid, &o, err, sizeof err) <= 0) {
		if (err[0])
			fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	if (json) {
		ctl_print_json(o);
	} else {
		json_object *v;
		char miss[128];
		json_object_object_get_ex(o, "missing", &v);
		missing_text(v, miss, sizeof miss);
		printf("group:      %s\nstate:      %s\n", name, jget_str(o, "state"));
		printf("subbands:   %d (missing: %s)\nretries:    %d\n", jget_int(o, "n_subbands"),
		       miss, jget_int(o, "retries"));
		if (json_object_object_get_ex(o, "calibration", &v) && v)
			printf("calibrated: %s\n", strcmp(json_object_get_string(v), "full") == 0 ? "yes"
			       : strcmp(json_object_get_string(v), "none") == 0 ? "no"
			       : json_object_get_string(v));
		else if (json_object_object_get_ex(o, "calibrated", &v) && v)
			printf("calibrated: %s\n", json_object_get_boolean(v) ? "yes" : "no");
		if (jget_str(o, "error"))
			printf("error:      %s\n", jget_str(o, "error"));
		if (jget_bool(o, "stale"))
			printf("stale:      %s (requeue to re-run it)\n",
			       jget_str_or(o, "stale_reason", "an input file changed after the run"));
		json_object_object_get_ex(o, "missing_reasons", &v);
		json_object_object_foreach(v, k, why)
			printf("missing sb%02d: %s\n", atoi(k), json_object_get_string(why));
		if (json_object_object_get_ex(o, "pointing", &v) && v) {
			json_object *q = NULL, *id = NULL;
			json_object_object_get_ex(v, "override_id", &id);
			printf("pointing:   dec %+.4f deg from %s", jget_double(v, "dec_deg"),
			       jget_str(v, "source"));
			if (id)
				printf(" %lld", (long long)json_object_get_int64(id));
			if (json_object_object_get_ex(v, "file_dec_deg", &q) && q)
				printf(" (files: %+.4f deg)", json_object_get_double(q));
			printf("\n");
			if (json_object_object_get_ex(v, "check", &q) && q) {
				const char *stt = jget_str(q, "status");
				if (!strcmp(stt, "ok") || !strcmp(stt, "warn"))
					printf("pointing check: %s, offset %+.3f +- %.3f deg (%.1f sigma), "
					       "%d sources (%d north, %d south), flux scale %.3f\n",
					       !strcmp(stt, "warn") ? "WARNING" : "ok",
					       jget_double(q, "offset_deg"), jget_double(q, "offset_err_deg"),
					       jget_double(q, "significance"), jget_int(q, "nsources"),
					       jget_int(q, "nnorth"), jget_int(q, "nsouth"),
					       jget_double(q, "scale"));
				else
					printf("pointing check: not made (%s: %d usable sources)\n", stt,
					       jget_int(q, "nsources"));
			}
		}
		json_object_object_get_ex(o, "stage_runs", &v);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *sr = json_object_array_get_idx(v, i);
			int ok = jget_bool(sr, "ok");
			printf("stage:      %-12s %8.2f s %s%s\n", jget_str(sr, "stage"),
			       jget_double(sr, "seconds"), ok ? "ok" : "FAILED ",
			       ok ? "" : jget_str(sr, "error"));
		}
		json_object_object_get_ex(o, "products", &v);
		json_object_object_foreach(v, pk, pv)
			printf("product:    %-12s %s\n", pk, json_object_get_string(pv));
		json_object_object_get_ex(o, "files", &v);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *fo = json_object_array_get_idx(v, i);
			printf("file:       %-9s %s%s%s\n", jget_str(fo, "status"), jget_str(fo, "path"),
			       jget_str(fo, "reason") ? "  " : "", jget_str_or(fo, "reason", ""));
		}
		json_object_object_get_ex(o, "events", &v);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *e = json_object_array_get_idx(v, i);
			printf("event:      %s %-9s %s\n", jget_str(e, "at"), jget_str(e, "kind"),
			       jget_str_or(e, "message", ""));
		}
	}
	rc = CTL_OK;
out:
	json_object_put(o);
	return ctl_end(&st, rc);
}

/* ---- requeue, retry-failed ---- */

int ctl_requeue(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	const char *reason = "requeued by operator";
	char err[ERR_LEN];
	int n = 0, rc, worst = CTL_OK, force = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reason") && i + 1 < argc) {
			reason = argv[++i];
		} else if (!strcmp(argv[i], "--force")) {
			force = 1;
		} else if (argv[i][0] == '-') {
			n = 0;
			break;
		} else {
			if ((rc = check_group_name(argv[i])))
				return rc;
			n++;
		}
	}
	if (!n)
		return ctl_usage(env);
	rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	for (int i = 1; i < argc; i++) {
		int64_t gid = 0;
		int r;
		if (!strcmp(argv[i], "--reason")) {
			i++;
			continue;
		}
		if (!strcmp(argv[i], "--force"))
			continue;
		r = queue_find(st.db, argv[i], &gid, err, sizeof err);
		if (r == 0) {
			fprintf(stderr, "contimgctl: no group %s\n", argv[i]);
			if (worst == CTL_OK)
				worst = CTL_NOT_FOUND;
			continue;
		}
		if (r > 0) {
			/* Retention removed its raw files: a new run has nothing to
			 * read (daemon/housekeeping.h). */
			housedb_removed hr;
			if (housedb_removed_of(st.db, gid, &hr, NULL, 0) == 0 && hr.nfiles > 0) {
				char when[40];
				util_iso_utc(hr.at, when, sizeof when);
				fprintf(stderr, "contimgctl: %s: its raw subband files were removed by"
					" retention ([housekeeping] raw_keep_days): %d file(s), %.2f GB, "
					"%s %s%s%s%s; nothing to re-run%s\n", argv[i], hr.nfiles,
					hr.bytes / 1e9, !strcmp(hr.action, "move") ? "moved" : "deleted",
					when, hr.dest[0] ? " (e.g. to " : "", hr.dest,
					hr.dest[0] ? ")" : "",
					!strcmp(hr.action, "move") ? " until they are moved back and "
								    "registered again (ingest)"
								  : "");
				if (worst == CTL_OK)
					worst = CTL_USAGE;
				continue;
			}
			r = (force ? queue_requeue_force : queue_requeue)(st.db, gid, reason,
									   clk_wall_s(), err, sizeof err);
		}
		if (r < 0) {
			fprintf(stderr, "contimgctl: %s: %s\n", argv[i], err);
			worst = r == -EBUSY ? CTL_USAGE : CTL_UNREACHABLE;
			continue;
		}
		printf("%s: pending\n", argv[i]);
	}
	rc = worst;
	return ctl_end(&st, rc);
}

int ctl_retry_failed(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	const char *reason = "retry-failed";
	char err[ERR_LEN];
	int n = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reason") && i + 1 < argc) {
			reason = argv[++i];
		} else {
			return ctl_usage(env);
		}
	}
	rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	if (queue_retry_failed(st.db, reason, clk_wall_s(), &n, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	printf("%d failed group(s) back to pending\n", n);
out:
	return ctl_end(&st, rc);
}

/* ---- ingest, process: collecting file paths ---- */

typedef struct path_list {
	char **p;
	int n, cap;
	int rejected;
} path_list;

static int list_add(path_list *l, const char *path)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 32;
		char **np = realloc(l->p, (size_t)cap * sizeof *np);
		if (!np)
			return -ENOMEM;
		l->p = np;
		l->cap = cap;
	}
	l->p[l->n] = strdup(path);
	if (!l->p[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

static void list_free(path_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->p[i]);
	free(l->p);
}

/* Add the subband files named by arg (a file or a directory) as absolute
 * canonical paths.  Names that do not match are rejected (files) or skipped
 * (directories). */
static int collect(path_list *l, const char *arg, json_object *rejected)
{
	char real[PATH_MAX], full[PATH_MAX + 300];
	struct stat st;
	const char *b;

	if (!realpath(arg, real) || stat(real, &st) < 0) {
		fprintf(stderr, "contimgctl: %s: %s\n", arg, strerror(errno));
		if (rejected)
			json_object_array_add(rejected, json_object_new_string(arg));
		l->rejected++;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(real);
		struct dirent *de;
		if (!d) {
			fprintf(stderr, "contimgctl: %s: %s\n", arg, strerror(errno));
			l->rejected++;
			return 0;
		}
		while ((de = readdir(d))) {
			if (queue_parse_file_name(de->d_name, NULL, NULL) < 0)
				continue;
			snprintf(full, sizeof full, "%s/%s", real, de->d_name);
			if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && list_add(l, full) < 0) {
				closedir(d);
				return -ENOMEM;
			}
		}
		closedir(d);
		return 0;
	}
	/* Register canonical-directory/name, as the daemon does for what it sees
	 * in the ingest directory, so both name a file (or a symlink) the same way. */
	b = strrchr(arg, '/');
	b = b ? b + 1 : arg;
	if (b != arg) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%.*s", (int)(b - arg - 1), arg);
		if (!realpath(dir[0] ? dir : "/", real))
			real[0] = 0;
	} else if (!getcwd(real, sizeof real)) {
		real[0] = 0;
	}
	if (real[0] && strlen(real) + strlen(b) + 2 < sizeof real) {
		if (strcmp(real, "/"))
			strcat(real, "/");
		strcat(real, b);
	}
	if (!S_ISREG(st.st_mode) || queue_parse_file_name(b, NULL, NULL) < 0 || real[0] != '/') {
		fprintf(stderr, "contimgctl: %s: not a subband file (YYYY-MM-DDTHH:MM:SS_sbNN.hdf5)\n",
			arg);
		if (rejected)
			json_object_array_add(rejected, json_object_new_string(arg));
		l->rejected++;
		return 0;
	}
	return list_add(l, real);
}

static int register_files(sqlite3 *db, const path_list *l, const queue_params *q,
			  int64_t *gids, int *ngid, int *nnew, char *err, size_t errlen)
{
	for (int i = 0; i < l->n; i++) {
		struct stat st;
		queue_add_result res;
		int r, seen = 0;

		if (stat(l->p[i], &st) < 0)
			return err_set(err, errlen, -errno, "%s: %s", l->p[i], strerror(errno));
		r = queue_add_file(db, l->p[i], (int64_t)st.st_size,
				   st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9, q, clk_wall_s(), &res, err,
				   errlen);
		if (r < 0)
			return r;
		if (res.outcome == QUEUE_ADD_NEW || res.outcome == QUEUE_ADD_UPDATED)
			(*nnew)++;
		for (int k = 0; k < *ngid; k++)
			seen |= gids[k] == res.group_id;
		if (!seen)
			gids[(*ngid)++] = res.group_id;
	}
	return 0;
}

int ctl_ingest(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	path_list l = { 0 };
	int64_t *gids = NULL;
	int ngid = 0, nnew = 0, json = 0, npaths = 0, rc;
	char err[ERR_LEN];
	json_object *rejected = json_object_new_array();

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] == '-') {
			npaths = 0;
			break;
		} else
			npaths++;
	}
	if (!npaths) {
		json_object_put(rejected);
		return ctl_usage(env);
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") && collect(&l, argv[i], rejected) < 0) {
			rc = CTL_FAILED;
			goto out;
		}
	rc = ctl_begin(env, &st);
	if (rc)
		goto out;
	gids = calloc((size_t)l.n + 1, sizeof *gids);
	if (!gids) {
		rc = CTL_FAILED;
		goto out;
	}
	if (register_files(st.db, &l, &st.s->q, gids, &ngid, &nnew, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	if (json) {
		json_object *o = json_object_new_object(), *ga = json_object_new_array();
		json_object_object_add(o, "files", json_object_new_int(l.n));
		json_object_object_add(o, "new", json_object_new_int(nnew));
		for (int i = 0; i < ngid; i++) {
			char name[QUEUE_NAME_LEN];
			if (queue_group_name(st.db, gids[i], name, sizeof name, NULL, 0) == 0)
				json_object_array_add(ga, json_object_new_string(name));
		}
		json_object_object_add(o, "groups", ga);
		json_object_object_add(o, "rejected", json_object_get(rejected));
		ctl_print_json(o);
		json_object_put(o);
	} else {
		printf("%d file(s), %d new or updated, in %d group(s)\n", l.n, nnew, ngid);
	}
	rc = l.rejected ? CTL_USAGE : CTL_OK;
out:
	json_object_put(rejected);
	free(gids);
	list_free(&l);
	return ctl_end(&st, rc);
}

/* ---- process ---- */

static json_object *process_json(const pipe_ctx *ctx, const char *name, const char *state,
				 int rc, const char *err, json_object *missing)
{
	json_object *o = json_object_new_object(), *st = json_object_new_object(),
		    *pr = json_object_new_object();
	json_object_object_add(o, "group_id", json_object_new_string(name));
	json_object_object_add(o, "state", json_object_new_string(state));
	/* As in `show` (daemon/views.c): bandpass-only is not calibrated. */
	json_object_object_add(o, "calibrated",
			       json_object_new_boolean(ctx->calibrated == PHOT_CAL_FULL));
	json_object_object_add(o, "calibration", json_object_new_string(
		ctx->calibrated == PHOT_CAL_FULL ? "full"
		: ctx->calibrated == PHOT_CAL_BANDPASS ? "bandpass-only" : "none"));
	json_object_object_add(o, "n_subbands", json_object_new_int(ctx->ngood));
	json_object_object_add(o, "missing", missing);
	for (int i = 0; i < ctx->ntimes; i++)
		json_object_object_add(st, ctx->times[i].name,
				       json_object_new_double(ctx->times[i].seconds));
	json_object_object_add(o, "stages", st);
	json_object *sc = json_object_new_object();
	for (int i = 0; i < ctx->ntimes; i++)
		json_object_object_add(sc, ctx->times[i].name,
				       json_object_new_double(ctx->times[i].cpu_s));
	json_object_object_add(o, "stages_cpu", sc);
	if (ctx->eop_text[0]) {
		/* The Earth orientation the group was processed with (daemon/earth.h). */
		json_object *e = json_object_new_object();
		json_object_object_add(e, "dut1_s", json_object_new_double(ctx->eop.dut1_s));
		json_object_object_add(e, "xp_arcsec",
				       json_object_new_double(ctx->eop.xp_rad * 648000 / M_PI));
		json_object_object_add(e, "yp_arcsec",
				       json_object_new_double(ctx->eop.yp_rad * 648000 / M_PI));
		json_object_object_add(e, "source", json_object_new_string(ctx->eop_text));
		json_object_object_add(o, "eop", e);
	}
	json_object_object_add(o, "pointing", ctx->has_pointing ? view_pointing(&ctx->pointing)
								 : NULL);
	if (ctx->cal) {
		/* Where the calibration time goes (make bench prints it under "calibrate"). */
		double model_s, solve_s, apply_s;
		json_object *ct = json_object_new_object();
		cal_result_timing(ctx->cal, &model_s, &solve_s, &apply_s);
		json_object_object_add(ct, "model", json_object_new_double(model_s));
		json_object_object_add(ct, "solve", json_object_new_double(solve_s));
		json_object_object_add(ct, "apply", json_object_new_double(apply_s));
		json_object_object_add(o, "calibrate_timing", ct);
	}
	if (ctx->image) {
		/* Where the imaging time goes (make bench prints it under "image"). */
		const image_timing *t = &ctx->image->t;
		json_object *it = json_object_new_object();
		json_object_object_add(it, "weight", json_object_new_double(t->weight_s));
		json_object_object_add(it, "plan", json_object_new_double(t->plan_s));
		json_object_object_add(it, "sort", json_object_new_double(t->index_s));
		json_object_object_add(it, "psf", json_object_new_double(t->psf_s));
		json_object_object_add(it, "dirty", json_object_new_double(t->dirty_s));
		json_object_object_add(it, "minor", json_object_new_double(t->minor_s));
		json_object_object_add(it, "major", json_object_new_double(t->major_s));
		json_object_object_add(it, "grid", json_object_new_double(t->grid_s));
		json_object_object_add(it, "fft", json_object_new_double(t->fft_s));
		json_object_object_add(it, "wscreen", json_object_new_double(t->screen_s));
		json_object_object_add(it, "restore", json_object_new_double(t->restore_s));
		json_object_object_add(it, "pb", json_object_new_double(t->pb_s));
		json_object_object_add(it, "major_cycles",
				       json_object_new_int(ctx->image->clean.major_cycles));
		json_object_object_add(it, "iterations",
				       json_object_new_int(ctx->image->clean.iterations));
		json_object_object_add(it, "nvis_gridded",
				       json_object_new_int64((int64_t)ctx->image->nvis_gridded));
		json_object_object_add(it, "degrid_direct",
				       json_object_new_int(ctx->image->grid.ndegrid_dft));
		json_object_object_add(o, "image_timing", it);
	}
	for (int i = 0; i < ctx->nproducts; i++)
		json_object_object_add(pr, ctx->products[i].name,
				       json_object_new_string(ctx->products[i].path));
	json_object_object_add(o, "products", pr);
	json_object_object_add(o, "error", rc ? json_object_new_string(err) : NULL);
	/* For `make bench`: the size of the group and this process's peak memory. */
	if (ctx->vis)
		json_object_object_add(o, "nvis", json_object_new_int64((int64_t)vis_nsamples(ctx->vis)));
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		json_object_object_add(o, "peak_rss_mb", json_object_new_double(ru.ru_maxrss / 1024.0));
	return o;
}

/* How long `process` keeps trying to record the end of its run. */
#define PROCESS_RECORD_WAIT_S 600.0

/* pipe_record, retried with back-off (1 s doubling to 30 s, for up to
 * PROCESS_RECORD_WAIT_S) while the state database refuses the write (another
 * process holds its lock, its disk is full): as the daemon's workers, the
 * foreground run never drops its outcome for a passing DB error.  Returns 0,
 * or CTL_UNREACHABLE when it gave up (the message printed). */
static int record_retrying(pipe_ctx *ctx, const queue_params *q, int run_result,
			   const char *run_err, char *state)
{
	char e[ERR_LEN];
	double t0 = clk_mono_s(), delay = 1;

	for (int attempt = 1;; attempt++) {
		if (pipe_record(ctx, q, run_result, run_err, state, e, sizeof e) == 0) {
			if (attempt > 1)
				fprintf(stderr, "contimgctl: the end of the run was recorded after %d"
						" attempts\n", attempt);
			return CTL_OK;
		}
		if (clk_mono_s() - t0 + delay > PROCESS_RECORD_WAIT_S) {
			fprintf(stderr, "contimgctl: gave up recording the end of the run after %.0f s:"
					" %s; the group stays in_progress until the daemon's recovery"
					" or `contimgctl requeue` frees it\n", clk_mono_s() - t0, e);
			return CTL_UNREACHABLE;
		}
		fprintf(stderr, "contimgctl: cannot record the end of the run yet (%s); retrying in"
				" %.0f s\n", e, delay);
		sleep((unsigned)delay);
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
}

int ctl_process(int argc, char **argv, const ctl_env *env)
{
	pipe_settings s;
	cfg *c = NULL;
	contimg_config *conf = NULL;
	sqlite3 *db = NULL;
	path_list l = { 0 };
	int64_t *gids = NULL, gid, claim = 0;
	int ngid = 0, nnew = 0, json = 0, export_vis = 0, npaths = 0, rc, r;
	char err[ERR_LEN] = "", state[16] = "", name[QUEUE_NAME_LEN] = "";
	pipe_ctx ctx;
	queue_params q;

	memset(&ctx, 0, sizeof ctx);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--export-vis"))
			export_vis = 1;
		else if (!strcmp(argv[i], "--do-k") || !strcmp(argv[i], "--quick-look"))
			;
		else if (!strcmp(argv[i], "--set") && i + 1 < argc &&
			 strchr(argv[i + 1], '.') && strchr(argv[i + 1], '='))
			i++;
		else if (argv[i][0] == '-') {
			npaths = 0;
			break;
		} else
			npaths++;
	}
	if (!npaths) {
		fprintf(stderr, "usage: contimgctl process FILES...|DIR [--json] [--export-vis]"
				" [--do-k] [--quick-look] [--set SECTION.KEY=VALUE]...\n");
		return CTL_USAGE;
	}
	log_init("contimgctl", LOG_FORMAT_AUTO, LOG_INFO);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--set")) {
			i++; /* its value is applied once the config is loaded */
			continue;
		}
		if (argv[i][0] != '-' && collect(&l, argv[i], NULL) < 0) {
			rc = CTL_FAILED;
			goto out;
		}
	}
	if (l.rejected || l.n == 0) {
		if (!l.n)
			fprintf(stderr, "contimgctl: no subband files given\n");
		rc = CTL_USAGE;
		goto out;
	}
	rc = ctl_load_settings(env, &c, &s);
	if (rc)
		goto out;
	/* Per-run overrides on top of the config file (same keys, docs/config.md). */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--do-k")) {
			cfg_set(c, "calibrate", "do_k", "true");
		} else if (!strcmp(argv[i], "--quick-look")) {
			cfg_set(c, "image", "quicklook", "true");
		} else if (!strcmp(argv[i], "--set")) {
			char sec[128], *key, *val;
			snprintf(sec, sizeof sec, "%s", argv[++i]);
			key = strchr(sec, '.');
			val = strchr(sec, '=');
			if (!key || !val || val < key || key == sec || val == key + 1) {
				fprintf(stderr, "contimgctl: --set wants SECTION.KEY=VALUE, not '%s'\n",
					argv[i]);
				rc = CTL_USAGE;
				goto out;
			}
			*key++ = 0;
			*val++ = 0;
			if (cfg_set(c, sec, key, val) < 0) {
				rc = CTL_FAILED;
				goto out;
			}
		}
	}
	rc = build_config(c, &conf);
	if (rc)
		goto out;
	s = conf->pipe;
	log_set_level(conf->log_level); /* as contimgd (debug shows each CLEAN cycle) */
	/* The same IERS table as the daemon ([earth] eop_file). */
	if (earth_table_update(s.earth.eop_file, 1, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: [earth] eop_file: %s\n", err);
		rc = CTL_USAGE;
		goto out;
	}
	rc = ctl_become_owner(&s, 1);
	if (rc)
		goto out;
	rc = ctl_open_db(&s, 1, 1, &db);
	if (rc)
		goto out;
	gids = calloc((size_t)l.n + 1, sizeof *gids);
	if (!gids) {
		rc = CTL_FAILED;
		goto out;
	}
	/* Register and claim in one transaction, so a running daemon cannot take
	 * the group in between. */
	if (db_begin(db, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}
	r = register_files(db, &l, &s.q, gids, &ngid, &nnew, err, sizeof err);
	if (r == 0 && ngid != 1) {
		db_end(db, 0, NULL, 0);
		fprintf(stderr, "contimgctl: the files belong to %d groups; process one group at a"
				" time\n", ngid);
		rc = CTL_USAGE;
		goto out;
	}
	gid = gids[0];
	if (r == 0)
		r = queue_claim_group(db, gid, (int)getpid(), clk_wall_s(), err, sizeof err);
	if (r == 0)
		r = queue_current_claim(db, gid, &claim, err, sizeof err);
	if (r < 0) {
		db_end(db, 0, NULL, 0);
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = r == -EBUSY ? CTL_USAGE : CTL_UNREACHABLE;
		goto out;
	}
	if (db_end(db, 1, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		rc = CTL_UNREACHABLE;
		goto out;
	}

	r = pipe_ctx_init_config(&ctx, conf, db, gid, err, sizeof err);
	if (r < 0) {
		char e2[ERR_LEN];
		fprintf(stderr, "contimgctl: %s\n", err);
		queue_finish(db, gid, QUEUE_FAIL_HARD, err, 0, &s.q, clk_wall_s(), NULL, e2, sizeof e2);
		rc = CTL_FAILED;
		goto out;
	}
	snprintf(name, sizeof name, "%s", ctx.group_name);
	if (export_vis)
		ctx.export_vis = 1;
	/* In the foreground a failure is final: the operator sees it now, and the
	 * daemon should not quietly retry it later. */
	q = s.q;
	q.max_retries = 0;
	ctx.claim = claim;
	r = pipe_run(&ctx, err, sizeof err);
	rc = record_retrying(&ctx, &q, r, err, state);
	queue_set_stage(db, gid, NULL, NULL, 0);
	if (rc)
		goto out;
	if (json) {
		json_object *o = process_json(&ctx, name, state, r, err,
					      missing_subbands(db, gid, ctx.nsubbands));
		ctl_print_json(o);
		json_object_put(o);
	} else {
		printf("group %s: %s\n", name, state);
		if (ctx.has_pointing)
			printf("  pointing dec %+.4f deg from %s\n", ctx.pointing.dec_deg,
			       ctx.pointing.from_override ? "an override" : "the files");
		for (int i = 0; i < ctx.ntimes; i++)
			printf("  %-12s %8.2f s\n", ctx.times[i].name, ctx.times[i].seconds);
		for (int i = 0; i < ctx.nproducts; i++)
			printf("  product %-8s %s\n", ctx.products[i].name, ctx.products[i].path);
		if (r)
			printf("  error: %s\n", err);
	}
	rc = r == 0 ? CTL_OK : CTL_FAILED;
out:
	pipe_ctx_release(&ctx);
	free(gids);
	list_free(&l);
	db_close(db);
	contimg_config_free(conf);
	cfg_free(c);
	earth_table_update("", 0, NULL, 0);
	plot_release_statics(); /* the image stage's quick-look picture drew with fontconfig */
	return rc;
}
