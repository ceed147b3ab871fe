/*
 * daemon/view_alerts.c — the JSON view of the ESE alerts (view_alerts.h).
 */
#include "daemon/view_alerts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "daemon/util.h"
#include "state/alertdb.h"

static json_object *num(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

static json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static json_object *one(const alertdb_alert *a)
{
	json_object *o = json_object_new_object();
	char iso[40] = "";
	if (!o)
		return NULL;
	if (isfinite(a->created_at))
		util_iso_utc(a->created_at, iso, sizeof iso);
	json_object_object_add(o, "id", json_object_new_int64(a->id));
	json_object_object_add(o, "ivorn", json_object_new_string(a->ivorn));
	json_object_object_add(o, "source", json_object_new_string(a->source));
	json_object_object_add(o, "kind", json_object_new_string(a->kind));
	json_object_object_add(o, "ongoing", json_object_new_boolean(a->ongoing));
	json_object_object_add(o, "score", num(a->score));
	json_object_object_add(o, "depth", num(a->depth));
	json_object_object_add(o, "duration_days", num(a->duration_days));
	json_object_object_add(o, "t0_mjd", num(a->t0_mjd));
	json_object_object_add(o, "event_start_mjd", num(a->event_start_mjd));
	json_object_object_add(o, "event_end_mjd", num(a->event_end_mjd));
	json_object_object_add(o, "mjd", num(a->mjd));
	json_object_object_add(o, "group_id", a->group_id > 0 ? json_object_new_int64(a->group_id)
							      : NULL);
	json_object_object_add(o, "ra_deg", num(a->ra_deg));
	json_object_object_add(o, "dec_deg", num(a->dec_deg));
	json_object_object_add(o, "flux_jy", num(a->flux_jy));
	json_object_object_add(o, "f0_jy", num(a->f0_jy));
	json_object_object_add(o, "best_alt", str_or_null(a->best_alt));
	json_object_object_add(o, "dbic", num(a->dbic));
	json_object_object_add(o, "alt_evidence", num(a->alt_evidence));
	json_object_object_add(o, "cites", str_or_null(a->cites));
	json_object_object_add(o, "voevent", str_or_null(a->path));
	json_object_object_add(o, "created_at", str_or_null(iso));
	json_object_object_add(o, "created_at_unix", num(a->created_at));
	json_object_object_add(o, "sent", json_object_new_boolean(isfinite(a->sent_at)));
	json_object_object_add(o, "sent_at_unix", num(a->sent_at));
	return o;
}

int view_alerts(sqlite3 *db, double since_unix, json_object **ret, char *err, size_t errlen)
{
	alertdb_alert *a = NULL;
	size_t n = 0;
	int rc = alertdb_list(db, since_unix, 0, 0, &a, &n, err, errlen);
	if (rc < 0)
		return rc;
	json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < n; i++) {
		json_object *o = one(&a[i]);
		if (!o || json_object_array_add(arr, o)) {
			json_object_put(o);
			json_object_put(arr);
			arr = NULL;
		}
	}
	free(a);
	if (!arr)
		return err_set(err, errlen, -ENOMEM, "alerts: out of memory");
	*ret = arr;
	return 0;
}

int view_parse_since(const char *s, double now_unix, double *ret_unix)
{
	char *end;
	if (!s || !*s)
		return -EINVAL;
	double d = strtod(s, &end);
	if (*end == 0 && end != s && !strchr(s, '-')) {
		if (!(d >= 0) || !isfinite(d))
			return -EINVAL;
		*ret_unix = now_unix - d * 86400.0;
		return 0;
	}
	int Y, M, D, h = 0, m = 0, sec = 0, n = 0;
	char tail[8] = "";
	int k = sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n);
	if (k != 3)
		return -EINVAL;
	const char *p = s + n;
	if (*p == 'T' || *p == ' ') {
		int n2 = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &m, &n2) != 2)
			return -EINVAL;
		p += 1 + n2;
		if (*p == ':') {
			int n3 = 0;
			if (sscanf(p + 1, "%2d%n", &sec, &n3) != 1)
				return -EINVAL;
			p += 1 + n3;
		}
	}
	snprintf(tail, sizeof tail, "%s", p);
	if (strcmp(tail, "") && strcmp(tail, "Z"))
		return -EINVAL;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || h < 0 || m < 0 ||
	    sec < 0)
		return -EINVAL;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
			 .tm_min = m, .tm_sec = sec };
	*ret_unix = (double)timegm(&tm);
	return 0;
}
