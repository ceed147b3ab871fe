#include "calib/apply.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

static size_t count_cal_flags(const vis_set *v)
{
	size_t n = 0;

#pragma omp parallel for schedule(static) reduction(+ : n)
	for (int b = 0; b < v->nbls; b++) {
		if (v->ant1[b] == v->ant2[b])
			continue;
		for (int t = 0; t < v->ntimes; t++) {
			const uint8_t *f = &v->flags[vis_idx(v, t, b, 0, 0)];
			for (int k = 0; k < v->nchan * v->npols; k++)
				n += (f[k] & VIS_FLAG_CAL) != 0;
		}
	}
	return n;
}

static int check_type(const gaintab *t, const char *want, const vis_set *v, char *err,
		      size_t errlen)
{
	if (t && t->type[0] && strcmp(t->type, want) != 0)
		return err_set(err, errlen, -EINVAL, "%s: a \"%s\" table was given where a %s table belongs",
			       v->name, t->type, want);
	return 0;
}

/* One history line for table t (type want) applied to v under name (may be NULL). */
static int history_table(vis_set *v, const gaintab *t, const char *want, const char *name,
			 char *err, size_t errlen)
{
	char what[512] = "";
	size_t n = 0;

#define ADD(...)                                                                      \
	do {                                                                          \
		if (n < sizeof what)                                                  \
			n += (size_t)snprintf(what + n, sizeof what - n, __VA_ARGS__); \
	} while (0)
	if (t->calibrator[0])
		ADD("%scalibrator %s", n ? ", " : "", t->calibrator);
	if (t->source_group[0])
		ADD("%ssolved on group %s", n ? ", " : "", t->source_group);
	if (t->refant >= 0)
		ADD("%srefant %d", n ? ", " : "", t->refant);
	if (t->valid_end_mjd > t->valid_start_mjd)
		ADD("%svalid MJD %.5f to %.5f", n ? ", " : "", t->valid_start_mjd,
		    t->valid_end_mjd);
#undef ADD
	if (vis_history_add(v, "contimg calibrate: applied %s %s table%s%s%s%s%s.",
			    name && *name ? "the" : "a", want, name && *name ? " " : "",
			    name && *name ? name : "", n ? " (" : "", what, n ? ")" : "") < 0)
		return err_set(err, errlen, -ENOMEM, "%s: out of memory for the history", v->name);
	return 0;
}

int apply_solutions(vis_set *v, const gaintab *k, const gaintab *b, const gaintab *g,
		    int nthreads, apply_stats *ret_stats, char *err, size_t errlen)
{
	return apply_solutions_named(v, k, b, g, NULL, nthreads, ret_stats, err, errlen);
}

int apply_solutions_named(vis_set *v, const gaintab *k, const gaintab *b, const gaintab *g,
			  const char *const names[3], int nthreads, apply_stats *ret_stats,
			  char *err, size_t errlen)
{
	static const char *const type[3] = {"K", "B", "G"};
	const gaintab *order[3] = {k, b, g};
	size_t before = 0, after, ncross = 0;
	apply_stats st = {0, 0};
	int ret;

	if (!v)
		return err_set(err, errlen, -EINVAL, "apply: no visibilities");
	if ((ret = check_type(k, "K", v, err, errlen)) || (ret = check_type(b, "B", v, err, errlen)) ||
	    (ret = check_type(g, "G", v, err, errlen)))
		return ret;
	if (ret_stats)
		before = count_cal_flags(v);
	for (int i = 0; i < 3; i++) {
		if (!order[i])
			continue;
		ret = gaintab_divide(v, order[i], nthreads, err, errlen);
		if (ret)
			return ret;
		st.ntables++;
		ret = history_table(v, order[i], type[i], names ? names[i] : NULL, err, errlen);
		if (ret)
			return ret;
	}
	/* The bandpass and gain solutions carry the flux scale (the solvers fit
	 * the data to the calibrator model in Jy); a delay alone does not. */
	if (b || g)
		snprintf(v->vis_units, sizeof v->vis_units, "Jy");
	if (ret_stats) {
		after = count_cal_flags(v);
		for (int bl = 0; bl < v->nbls; bl++)
			if (v->ant1[bl] != v->ant2[bl])
				ncross += (size_t)v->ntimes * v->nchan * v->npols;
		st.cal_flagged_frac = ncross ? (double)(after - before) / ncross : 0;
		*ret_stats = st;
	}
	return 0;
}
