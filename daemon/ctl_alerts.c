/*
 * daemon/ctl_alerts.c — `contimgctl alerts [--since ISO|DAYS] [--json]`: the
 * ESE alerts (daemon/alert.h), oldest first.  The JSON is view_alerts()'s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/clock.h"
#include "core/err.h"
#include "daemon/ctl.h"
#include "daemon/view_alerts.h"

static void cell(double v, const char *fmt, int w)
{
	if (isfinite(v))
		printf(fmt, w, v);
	else
		printf(" %*s", w, "-");
}

int ctl_alerts(int argc, char **argv, const ctl_env *env)
{
	double since = -INFINITY;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--since") && i + 1 < argc) {
			if (view_parse_since(argv[++i], clk_wall_s(), &since) < 0) {
				fprintf(stderr, "contimgctl: --since wants a number of days or "
					"YYYY-MM-DD[THH:MM[:SS]][Z]\n");
				return CTL_USAGE;
			}
		} else {
			return ctl_usage(env);
		}
	}
	ctl_state st;
	int rc = ctl_begin(env, &st);
	if (rc)
		return rc;
	char err[ERR_LEN];
	json_object *a = NULL;
	if (view_alerts(st.db, since, &a, err, sizeof err) < 0) {
		fprintf(stderr, "contimgctl: %s\n", err);
		return ctl_end(&st, CTL_UNREACHABLE);
	}
	if (json) {
		ctl_print_json(a);
	} else {
		size_t n = json_object_array_length(a);
		printf("%-20s %-9s %-24s %6s %6s %7s %10s %4s  %s\n", "created", "kind", "source",
		       "score", "depth", "dur_d", "t0_mjd", "sent", "ivorn");
		for (size_t i = 0; i < n; i++) {
			json_object *o = json_object_array_get_idx(a, i), *v;
#define S(k) (json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "-")
#define D(k) (json_object_object_get_ex(o, k, &v) && v ? json_object_get_double(v) : NAN)
			printf("%-20s %-9s %-24s", S("created_at"), S("kind"), S("source"));
			cell(D("score"), " %*.3f", 6);
			cell(D("depth"), " %*.3f", 6);
			cell(D("duration_days"), " %*.1f", 7);
			cell(D("t0_mjd"), " %*.2f", 10);
			printf(" %4s  %s\n", json_object_object_get_ex(o, "sent", &v) &&
			       json_object_get_boolean(v) ? "yes" : "no", S("ivorn"));
#undef S
#undef D
		}
	}
	json_object_put(a);
	return ctl_end(&st, CTL_OK);
}
