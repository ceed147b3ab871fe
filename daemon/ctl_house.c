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

int ctl_housekeeping(int argc, char **argv, const ctl_env *env)
{
	ctl_state st;
	house_settings hs;
	house_action *a = NULL;
	house_stats stats = { 0 };
	size_t n = 0;
	json_object *o = NULL, *disk, *arr;
	int json = 0, dry = 0, rc, r;
	int64_t total = 0;
	char err[ERR_LEN];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--dry-run"))
			dry = 1;
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
	r = house_run(st.db, &hs, st.s->scratch_dir, clk_wall_s(), dry, &a, &n, &stats, err,
		      sizeof err);
	if (r < 0) {
		fprintf(stderr, "contimgctl: housekeeping: %s\n", err);
		rc = r == -ENOMEM ? CTL_FAILED : CTL_UNREACHABLE;
		goto out;
	}
	/* The free space after the run (a real run freed some). */
	disk = ctl_house_disk(st.s, &hs);
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_new_object();
		json_object_object_add(x, "group", a[i].group[0] ? json_object_new_string(a[i].group)
								: NULL);
		json_object_object_add(x, "kind", json_object_new_string(kind_name(a[i].kind)));
		json_object_object_add(x, "name", a[i].name[0] ? json_object_new_string(a[i].name)
							       : NULL);
		json_object_object_add(x, "action", json_object_new_string(action_name(&a[i])));
		json_object_object_add(x, "path", json_object_new_string(a[i].path));
		json_object_object_add(x, "dest", a[i].dest ? json_object_new_string(a[i].dest) : NULL);
		json_object_object_add(x, "bytes", json_object_new_int64(a[i].bytes));
		json_object_object_add(x, "gone", json_object_new_boolean(a[i].gone));
		json_object_object_add(x, "why", json_object_new_string(a[i].why));
		json_object_array_add(arr, x);
		total += a[i].bytes;
	}
	o = json_object_new_object();
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry));
	json_object_object_add(o, "retention", json_object_new_boolean(house_retention_on(&hs)));
	json_object_object_add(o, "paths", disk);
	json_object_object_add(o, "actions", arr);
	json_object_object_add(o, "total_bytes", json_object_new_int64(total));
	if (!dry) {
		json_object_object_add(o, "done", json_object_new_int(stats.done));
		json_object_object_add(o, "skipped", json_object_new_int(stats.skipped));
		json_object_object_add(o, "failed", json_object_new_int(stats.failed));
		json_object_object_add(o, "freed_bytes", json_object_new_int64(stats.bytes));
		json_object_object_add(o, "error", stats.failed ? json_object_new_string(err) : NULL);
	}
	if (json) {
		ctl_print_json(o);
	} else {
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
		if (!house_retention_on(&hs))
			printf("retention: off (raw_keep_days, products_keep_days, scratch_keep_hours"
			       " are 0)\n");
		for (size_t i = 0; i < n; i++) {
			printf("%s%-6s %s  %.3f GB  %s%s%s  (%s%s)\n", dry ? "would " : "",
			       action_name(&a[i]), a[i].path, a[i].bytes / 1e9, a[i].group,
			       a[i].dest ? "  -> " : "", a[i].dest ? a[i].dest : "", a[i].why,
			       a[i].gone ? "; already gone" : "");
		}
		printf("%s%zu action(s), %.3f GB%s\n", dry ? "dry run: " : "", n, total / 1e9,
		       dry ? "; nothing changed" : "");
		if (!dry)
			printf("done %d, skipped %d, failed %d, %.3f GB freed\n", stats.done,
			       stats.skipped, stats.failed, stats.bytes / 1e9);
		if (!dry && stats.failed)
			fprintf(stderr, "contimgctl: housekeeping: %s\n", err);
	}
	rc = !dry && stats.failed ? CTL_FAILED : CTL_OK;
out:
	house_actions_free(a, n);
	json_object_put(o);
	return ctl_end(&st, rc);
}
