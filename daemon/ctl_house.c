/*
 * daemon/ctl_house.c — `contimgctl housekeeping`: the free space of the
 * watched paths and what retention would remove (--dry-run) or removes now
 * (daemon/housekeeping.h; docs/cli.md, docs/operations.md "Disk space and
 * retention").  Also the "disk" part of `contimgctl status` (ctl_house_disk).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/housekeeping.h"
#include "daemon/pipeline.h"
#include "daemon/util.h"
#include "state/db.h"

static const char *path_of(const pipe_settings *s, int i)
{
	switch (i) {
	case HOUSE_INCOMING: return s->ingest_dir;
	case HOUSE_PRODUCTS: return s->products_dir;
	case HOUSE_STATE: return s->state_dir;
	default: return s->scratch_dir;
	}
}

/* free_gb is null when the path is not configured or cannot be measured. */
json_object *ctl_house_disk(const pipe_settings *s, const house_settings *hs)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < HOUSE_NPATHS; i++) {
		json_object *o = json_object_new_object();
		house_space sp;
		const char *p = path_of(s, i);
		double min = hs ? hs->min_free_gb[i] : 0;

		house_space_measure(p, &sp, NULL, 0);
		json_object_object_add(o, "name", json_object_new_string(house_path_label(i)));
		json_object_object_add(o, "path", *p ? json_object_new_string(p) : NULL);
		json_object_object_add(o, "free_gb", sp.free_bytes >= 0
						     ? json_object_new_double(sp.free_bytes / 1e9)
						     : NULL);
		json_object_object_add(o, "min_free_gb", json_object_new_double(min));
		json_object_object_add(o, "below", json_object_new_boolean(
							   min > 0 && sp.free_bytes >= 0 &&
							   sp.free_bytes < min * 1e9));
		json_object_array_add(a, o);
	}
	return a;
}

static const char *action_name(const house_action *a)
{
	switch (a->action) {
	case HOUSE_MOVE: return "move";
	case HOUSE_RMDIR: return "rmdir";
	default: return "delete";
	}
}

static const char *kind_name(int k)
{
	return k == HOUSE_KIND_RAW ? "raw" : k == HOUSE_KIND_PRODUCT ? "product" : "scratch";
}

/* The actions are printed as they come (a first pass over a year of history
 * lists millions of files: nothing is held in memory). */
typedef struct printer {
	int json, dry;
	size_t n;
	int64_t total;
} printer;

static int print_action(const house_action *a, void *arg)
{
	printer *p = arg;

	if (p->json) {
		json_object *x = json_object_new_object();
		json_object_object_add(x, "group", a->group[0] ? json_object_new_string(a->group)
							       : NULL);
		json_object_object_add(x, "kind", json_object_new_string(kind_name(a->kind)));
		json_object_object_add(x, "name", a->name[0] ? json_object_new_string(a->name) : NULL);
		json_object_object_add(x, "action", json_object_new_string(action_name(a)));
		json_object_object_add(x, "path", json_object_new_string(a->path));
		json_object_object_add(x, "dest", a->dest ? json_object_new_string(a->dest) : NULL);
		json_object_object_add(x, "bytes", json_object_new_int64(a->bytes));
		json_object_object_add(x, "gone", json_object_new_boolean(a->gone));
		json_object_object_add(x, "why", json_object_new_string(a->why));
		printf("%s\n    %s", p->n ? "," : "",
		       json_object_to_json_string_ext(x, JSON_C_TO_STRING_SPACED |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(x);
	} else {
		printf("%s%-6s %s  %.3f GB  %s%s%s  (%s%s)\n", p->dry ? "would " : "",
		       action_name(a), a->path, a->bytes / 1e9, a->group, a->dest ? "  -> " : "",
		       a->dest ? a->dest : "", a->why, a->gone ? "; already gone" : "");
	}
	p->n++;
	p->total += a->bytes;
	return 0;
}

int ctl_housekeeping(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	house_settings hs;
	house_stats stats = { 0 };
	printer pr = { 0 };
	json_object *disk = NULL;
	int rc, r;
	char err[ERR_LEN] = "";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			pr.json = 1;
		else if (!strcmp(argv[i], "--dry-run"))
			pr.dry = 1;
		else
			return ctl_usage(env);
	}
	rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	if (house_settings_read(st.cfg, st.s->ingest_dir, &hs, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s: %s\n", env->config_path, err);
		rc = CTL_USAGE;
		goto out;
	}
	if (pr.json)
		printf("{\n  \"dry_run\": %s,\n  \"retention\": %s,\n  \"actions\": [",
		       pr.dry ? "true" : "false", house_retention_on(&hs) ? "true" : "false");
	else if (!house_retention_on(&hs))
		printf("retention: off (raw_keep_days, products_keep_days, scratch_keep_hours"
		       " are 0)\n");
	r = house_run_each(st.db, &hs, st.s->scratch_dir, clk_wall_s(), pr.dry, print_action, &pr,
			   &stats, err, sizeof err);
	if (r < 0) {
		if (pr.json)
			printf("\n  ]\n}\n");
		fprintf(stderr, "contimgctl: housekeeping: %s\n", err);
		rc = r == -ENOMEM ? CTL_FAILED : CTL_UNREACHABLE;
		goto out;
	}
	/* The free space after the run (a real run freed some). */
	disk = ctl_house_disk(st.s, &hs);
	if (pr.json) {
		printf("%s],\n  \"total_bytes\": %lld,\n  \"paths\": %s", pr.n ? "\n  " : "",
		       (long long)pr.total,
		       json_object_to_json_string_ext(disk, JSON_C_TO_STRING_SPACED |
								JSON_C_TO_STRING_NOSLASHESCAPE));
		if (!pr.dry) {
			json_object *e = stats.failed ? json_object_new_string(err) : NULL;
			printf(",\n  \"done\": %d,\n  \"skipped\": %d,\n  \"failed\": %d,\n"
			       "  \"freed_bytes\": %lld,\n  \"error\": %s", stats.done, stats.skipped,
			       stats.failed, (long long)stats.bytes,
			       e ? json_object_to_json_string(e) : "null");
			json_object_put(e);
		}
		printf("\n}\n");
	} else {
		printf("%s%zu action(s), %.3f GB%s\n", pr.dry ? "dry run: " : "", pr.n,
		       pr.total / 1e9, pr.dry ? "; nothing changed" : "");
		if (!pr.dry)
			printf("done %d, skipped %d, failed %d, %.3f GB freed\n", stats.done,
			       stats.skipped, stats.failed, stats.bytes / 1e9);
		printf("free space:\n");
		for (size_t i = 0; i < json_object_array_length(disk); i++) {
			json_object *d = json_object_array_get_idx(disk, i), *v;
			const char *p = NULL;
			if (json_object_object_get_ex(d, "path", &v) && v)
				p = json_object_get_string(v);
			printf("  %-13s %-40s ", house_path_label((int)i), p ? p : "(not set)");
			if (json_object_object_get_ex(d, "free_gb", &v) && v)
				printf("%8.1f GB free", json_object_get_double(v));
			else
				printf("%8s", "-");
			if (hs.min_free_gb[i] > 0 && p)
				printf("  (pause below %g GB)%s", hs.min_free_gb[i],
				       json_object_get_boolean(json_object_object_get(d, "below"))
					       ? "  BELOW"
					       : "");
			printf("\n");
		}
	}
	if (!pr.dry && stats.failed)
		fprintf(stderr, "contimgctl: housekeeping: %s\n", err);
	rc = !pr.dry && stats.failed ? CTL_FAILED : CTL_OK;
out:
	json_object_put(disk);
	return ctl_end(&st, rc);
}
